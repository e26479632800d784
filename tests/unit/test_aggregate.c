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

int main(void)
{
	struct conn_table tab;
	struct conn_record *r, *r2;
	struct ka_event e;

	CHECK(!conn_table_init(&tab, 7));

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
	CHECK(r2 != r && tab.n == 2);

	e = ev(EV_DEATH, 0xA, 1, 2);
	e.cause = CAUSE_KEEPALIVE;
	e.err = 110;
	CHECK(conn_table_update(&tab, &e) == r);
	CHECK(r->end == END_DEATH && r->cause == CAUSE_KEEPALIVE && r->err == 110);
	CHECK(!conn_table_find_open(&tab, 0xA, 1));
	CHECK(conn_table_find_open(&tab, 0xA, 2) == r2);

	/* the address reused by a new socket: a new record */
	e = ev(EV_PROBE, 0xA, 1, 1);
	r2 = conn_table_update(&tab, &e);
	REQUIRE(r2);
	CHECK(r2 != r && tab.n == 3 && r2->probes_sent == 1);
	e = ev(EV_CLOSE, 0xA, 1, 0);
	conn_table_update(&tab, &e);
	CHECK(r2->end == END_CLOSED);

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
	CHECK(tab.n == 1004);
	CHECK(conn_table_find_open(&tab, 577, 3) && conn_table_find_open(&tab, 577, 3)->sk == 577);
	CHECK(!conn_table_find_open(&tab, 577, 4));
	conn_table_free(&tab);
	CHECK(tab.n == 0 && !tab.all);
	return unit_done("aggregate");
}
