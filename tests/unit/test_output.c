// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "output.h"
#include "unit.h"

static char *buf;
static size_t len;

static struct out_ctx ctx(bool json)
{
	struct out_ctx o = { .f = open_memstream(&buf, &len), .json = json,
			     .realtime_offset_ns = 1700000000LL * 1000000000LL,
			     .endpoint_width = 27 };
	return o;
}

static char *finish(struct out_ctx *o)
{
	fclose(o->f);
	return buf;
}

static struct ka_event death_event(void)
{
	struct ka_event e = {
		.type = EV_DEATH, .ts_ns = 5500000000ULL, .start_ns = 400000000ULL,
		.netns = 4026531840U, .pid = 1234, .comm = "my \"app\"\n",
		.cause = CAUSE_KEEPALIVE, .err = 110, .state = 1, .probes = 2,
		.silence_ms = 3004, .probes_max = 2, .ka_source = KA_SRC_ENFORCED,
	};

	e.t.family = AF_INET6;
	inet_pton(AF_INET6, "::1", e.t.saddr);
	inet_pton(AF_INET6, "::1", e.t.daddr);
	e.t.sport = 5000;
	e.t.dport = 41000;
	return e;
}

int main(void)
{
	struct ka_event e = death_event();
	struct conn_record *dead;
	struct conn_table tab;
	char line[1024];
	struct out_ctx o;
	int fds[2];
	ssize_t n;
	char *s;

	o = ctx(true);
	out_event(&o, &e);
	s = finish(&o);
	CHECK(!strcmp(s, "{\"event\":\"death\",\"ts\":1700000005.500000,\"netns\":4026531840,"
		      "\"family\":6,\"laddr\":\"::1\",\"lport\":5000,\"raddr\":\"::1\","
		      "\"rport\":41000,\"pid\":1234,\"comm\":\"my \\\"app\\\"\\u000a\","
		      "\"cgroup\":null,\"container_id\":null,\"pod_uid\":null,"
		      "\"ka_source\":\"enforced\",\"state\":\"ESTABLISHED\",\"unanswered\":2,"
		      "\"cause\":\"keepalive\",\"errno\":\"ETIMEDOUT\",\"lifetime_ms\":5100,"
		      "\"silence_ms\":3004,\"user_timeout_ms\":0}\n"));
	free(s);

	/* lifetime unknown (opened before us): null, not a made-up number */
	e.start_ns = 0;
	o = ctx(true);
	out_event(&o, &e);
	s = finish(&o);
	CHECK(strstr(s, "\"lifetime_ms\":null,") != NULL);
	free(s);

	e = death_event();
	e.type = EV_PROBE;
	e.probes = 1;
	e.idle_ms = 7200000;
	e.intvl_ms = 75000;
	e.probes_max = 9;
	o = ctx(true);
	out_event(&o, &e);
	s = finish(&o);
	CHECK(strstr(s, "\"event\":\"probe\"") && strstr(s, "\"unanswered\":1,\"ka_cnt\":9,"
							   "\"ka_idle_s\":7200,\"ka_intvl_s\":75,"));
	free(s);

	/* columns: one line, fixed widths */
	o = ctx(false);
	out_header(&o);
	out_event(&o, &e);
	s = finish(&o);
	CHECK(!strncmp(s, "TIME     EVENT    NETNS      LADDR:LPORT                 RADDR:RPORT"
		       "                     PID COMM            DETAIL\n", 97));
	CHECK(strstr(s, " probe    4026531840 [::1]:5000                  [::1]:41000"
			"                    1234 my \"app\"\n       1/9 idle=7200s intvl=75s (enforced)\n"));
	free(s);

	/* close events show only in the summary */
	e.type = EV_CLOSE;
	o = ctx(true);
	out_event(&o, &e);
	s = finish(&o);
	CHECK(len == 0);
	free(s);

	conn_table_init(&tab, 16, 1);
	e = death_event();
	e.type = EV_PROBE;
	conn_table_update(&tab, &e);
	e = death_event();
	dead = conn_table_update(&tab, &e);
	REQUIRE(dead && dead->end == END_DEATH);

	/* the stats file: the record of a connection as it ends, one line */
	REQUIRE(!pipe(fds));
	CHECK(!out_stats_record(fds[1], dead));
	close(fds[1]);
	n = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	line[n > 0 ? n : 0] = '\0';
	CHECK(!strncmp(line, "{\"event\":\"connection\",", 22) && strstr(line, "\"end\":\"death\"") &&
	      strchr(line, '\n') == line + strlen(line) - 1);
	conn_table_retire(&tab, dead);

	o = ctx(true);
	out_summary(&o, &tab, 9000000000ULL, false);
	out_lost(&o, &(struct lost_counts){ 0 });
	s = finish(&o);
	CHECK(strstr(s, "{\"event\":\"connection\",\"netns\":4026531840,") == s);
	CHECK(strstr(s, "\"ka_source\":\"enforced\",\"ka_idle_s\":0,\"ka_intvl_s\":0,\"ka_cnt\":2,"
			"\"user_timeout_ms\":0,\"probes_sent\":1,\"answers\":0,\"unanswered\":2,\"end\":\"death\","
			"\"cause\":\"keepalive\",\"errno\":\"ETIMEDOUT\",\"lifetime_ms\":5100}\n"));
	CHECK(strstr(s, "{\"event\":\"summary\",\"connections\":1,\"not_shown\":0}\n"));
	CHECK(!strstr(s, "lost"));
	free(s);

	/* a second connection still open; the summary keeps one ended */
	e = death_event();
	e.type = EV_PROBE;
	e.sk = 0xB;
	conn_table_update(&tab, &e);
	o = ctx(true);
	out_summary(&o, &tab, 9000000000ULL, true);	/* the ended went to stdout */
	s = finish(&o);
	CHECK(strstr(s, "\"end\":\"open\"") && !strstr(s, "\"end\":\"death\"") &&
	      strstr(s, "{\"event\":\"summary\",\"connections\":2,\"not_shown\":1}\n"));
	free(s);

	o = ctx(false);
	out_summary(&o, &tab, 9000000000ULL, false);
	out_lost(&o, &(struct lost_counts){ 3, 1, 2 });
	s = finish(&o);
	CHECK(strstr(s, "SUMMARY: 2 connection(s) seen\n"));
	CHECK(strstr(s, "   1234 my \"app\"\n     ") && strstr(s, "death  keepalive    ETIMEDOUT\n"));
	CHECK(strstr(s, "LOST: 3 event record(s) dropped (ring buffer full), 1 connection(s) "
			"untracked (table full), 2 hook run(s) skipped by the kernel\n"));
	free(s);
	conn_table_free(&tab);
	return unit_done("output");
}
