// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "aggregate.h"
#include "unit.h"

static struct ka_event ev(__u8 type, __u64 sk, __u32 netns, __u8 probes)
{
	struct ka_event e = { .type = type, .sk = sk, .netns = netns, .probes = probes,
			      .ts_ns = 1000 + probes, .pid = 42, .comm = "app" };

	e.t.family = 2;
	e.t.sport = 5000;
	return e;
}

static size_t count_records;

static void count_record(void *ctx, const struct conn_record *r)
{
	(void)ctx;
	(void)r;
	count_records++;
}

int main(void)
{
	struct conn_table tab;
	struct conn_record *r, *r2;
	size_t ended_right = 0;
	struct ka_event e;

	CHECK(!conn_table_init(&tab, 7, 2));	/* the summary keeps 2 ended */

	/* probes, an answer, more probes, a keepalive death */
	e = ev(EV_PROBE, 0xA, 1, 1);
	r = conn_table_update(&tab, &e);
	REQUIRE(r);
	CHECK(r->probes_sent == 1 && r->unanswered == 1 && r->end == END_OPEN);
	CHECK(r->pid == 42 && !strcmp(r->comm, "app"));
	e = ev(EV_ANSWERED, 0xA, 1, 1);
	CHECK(conn_table_update(&tab, &e) == r && r->answers == 1 && r->unanswered == 0);
	e = ev(EV_PROBE, 0xA, 1, 1);
	conn_table_update(&tab, &e);
	e = ev(EV_PROBE, 0xA, 1, 2);
	conn_table_update(&tab, &e);
	CHECK(r->probes_sent == 3 && r->unanswered == 2);
	CHECK(conn_table_find_open(&tab, 0xA, 1) == r);

	/* same socket address in another namespace: another connection */
	e = ev(EV_PROBE, 0xA, 2, 1);
	r2 = conn_table_update(&tab, &e);
	REQUIRE(r2);
	CHECK(r2 != r && tab.seen == 2 && tab.open == 2);

	e = ev(EV_DEATH, 0xA, 1, 2);
	e.cause = CAUSE_KEEPALIVE;
	e.err = 110;
	CHECK(conn_table_update(&tab, &e) == r);
	CHECK(r->end == END_DEATH && r->cause == CAUSE_KEEPALIVE && r->err == 110);
	CHECK(!conn_table_find_open(&tab, 0xA, 1));
	CHECK(conn_table_find_open(&tab, 0xA, 2) == r2 && tab.open == 1);
	conn_table_retire(&tab, r);	/* kept: 1 of 2 */

	/* the address reused by a new socket: a new record */
	e = ev(EV_PROBE, 0xA, 1, 1);
	r2 = conn_table_update(&tab, &e);
	REQUIRE(r2);
	CHECK(r2 != r && tab.seen == 3 && r2->probes_sent == 1);
	e = ev(EV_CLOSE, 0xA, 1, 0);
	conn_table_update(&tab, &e);
	CHECK(r2->end == END_CLOSED);
	conn_table_retire(&tab, r2);	/* kept: 2 of 2 */

	/* an unknown owner is taken from a later event that knows it */
	e = ev(EV_PROBE, 0xB, 1, 1);
	e.pid = 0;
	memset(e.comm, 0, sizeof(e.comm));
	r = conn_table_update(&tab, &e);
	REQUIRE(r);
	CHECK(r->pid == 0);
	e = ev(EV_PROBE, 0xB, 1, 2);
	conn_table_update(&tab, &e);
	CHECK(r->pid == 42 && !strcmp(r->comm, "app"));

	/* many connections: the table grows, chains stay right */
	for (__u64 sk = 100; sk < 1100; sk++) {
		e = ev(EV_PROBE, sk, 3, 1);
		conn_table_update(&tab, &e);
	}
	CHECK(tab.seen == 1004 && tab.open == 1002);
	CHECK(conn_table_find_open(&tab, 577, 3) && conn_table_find_open(&tab, 577, 3)->sk == 577);
	CHECK(!conn_table_find_open(&tab, 577, 4));

	/* ending connections past the summary's keep: freed and counted */
	for (__u64 sk = 100; sk < 1100; sk++) {
		e = ev(EV_DEATH, sk, 3, 0);
		r = conn_table_update(&tab, &e);
		ended_right += r && r->end == END_DEATH;
		if (r)
			conn_table_retire(&tab, r);
	}
	CHECK(ended_right == 1000 && tab.open == 2 && tab.n_ended == 2 && tab.not_kept == 1000);
	count_records = 0;
	conn_table_for_each(&tab, count_record, NULL);
	CHECK(count_records == 4);	/* 2 kept, 2 open */
	conn_table_free(&tab);
	CHECK(tab.open == 0 && !tab.ended && !tab.buckets);
	return unit_done("aggregate");
}
