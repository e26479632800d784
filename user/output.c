// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "decode.h"
#include "output.h"
#include "text.h"

char *conn_fields(char *p, enum text_record f, __u32 netns, const struct conn_tuple *t,
		  __u32 pid, const char *comm)
{
	char ip[ADDR_STR_LEN];

	p = text_field_num(p, f, "netns", netns);
	p = text_field_num(p, f, "family", t->family == AF_INET ? 4 : 6);
	format_ip(ip, t, 0);
	p = text_field_str(p, f, "laddr", ip);
	p = text_field_num(p, f, "lport", t->sport);
	format_ip(ip, t, 1);
	p = text_field_str(p, f, "raddr", ip);
	p = text_field_num(p, f, "rport", t->dport);
	p = text_field_num(p, f, "pid", pid);
	return text_field_str(p, f, "comm", comm);
}

/* The same keys for watch's JSON objects, which go on after them. */
static void put_json_conn_fields(FILE *f, __u32 netns, const struct conn_tuple *t, __u32 pid,
				 const char *comm)
{
	char buf[CONN_FIELDS_LEN];

	conn_fields(buf, TEXT_JSON, netns, t, pid, comm)[-1] = '\0';	/* the last comma */
	fputs(buf, f);
}

static void json_ms_or_null(FILE *f, const char *key, __u64 start_ns, __u64 end_ns)
{
	if (start_ns && end_ns >= start_ns)
		fprintf(f, ",\"%s\":%llu", key, (unsigned long long)((end_ns - start_ns) / 1000000));
	else
		fprintf(f, ",\"%s\":null", key);
}

static void json_event(const struct out_ctx *o, const struct ka_event *e)
{
	FILE *f = o->f;
	long long ts = (long long)e->ts_ns + o->realtime_offset_ns;

	fprintf(f, "{\"event\":\"%s\",\"ts\":%lld.%06lld,", event_name(e->type),
		ts / 1000000000, ts % 1000000000 / 1000);
	put_json_conn_fields(f, e->netns, &e->t, e->pid, e->comm);
	fprintf(f, ",\"ka_source\":\"%s\"", ka_source_name(e->ka_source));
	switch (e->type) {
	case EV_PROBE:
		fprintf(f, ",\"probe\":%u,\"probes_max\":%u,\"idle_s\":%u,\"intvl_s\":%u,"
			"\"user_timeout_ms\":%u,\"state\":\"%s\"", e->probes, e->probes_max,
			e->idle_ms / 1000,
			e->intvl_ms / 1000,
			e->user_timeout_ms, tcp_state_name(e->state));
		break;
	case EV_ANSWERED:
		fprintf(f, ",\"probes\":%u,\"state\":\"%s\"", e->probes, tcp_state_name(e->state));
		break;
	case EV_DEATH:
		fprintf(f, ",\"cause\":\"%s\",\"errno\":\"%s\",\"state\":\"%s\",\"probes\":%u",
			cause_name(e->cause), errno_name(e->err), tcp_state_name(e->state), e->probes);
		json_ms_or_null(f, "lifetime_ms", e->start_ns, e->ts_ns);
		fprintf(f, ",\"silence_ms\":%u,\"user_timeout_ms\":%u",
			e->silence_ms, e->user_timeout_ms);
		break;
	}
	fputs("}\n", f);
}

static void human_time(char *buf, size_t len, long long realtime_ns)
{
	time_t secs = realtime_ns / 1000000000;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

static void human_event(const struct out_ctx *o, const struct ka_event *e)
{
	char when[16], local[ADDR_STR_LEN], remote[ADDR_STR_LEN], detail[160];

	human_time(when, sizeof(when), (long long)e->ts_ns + o->realtime_offset_ns);
	format_endpoint(local, &e->t, 0);
	format_endpoint(remote, &e->t, 1);
	switch (e->type) {
	case EV_PROBE:
		snprintf(detail, sizeof(detail), "%u/%u idle=%us intvl=%us%s (%s)", e->probes,
			 e->probes_max, e->idle_ms / 1000, e->intvl_ms / 1000,
			 e->user_timeout_ms ? " user_timeout" : "", ka_source_name(e->ka_source));
		break;
	case EV_ANSWERED:
		snprintf(detail, sizeof(detail), "after %u unanswered", e->probes);
		break;
	case EV_DEATH: {
		char life[32] = "?";

		if (e->start_ns && e->ts_ns >= e->start_ns)
			snprintf(life, sizeof(life), "%.3fs", (e->ts_ns - e->start_ns) / 1e9);
		snprintf(detail, sizeof(detail), "%s %s %s probes=%u lifetime=%s silence=%.3fs",
			 cause_name(e->cause), errno_name(e->err), tcp_state_name(e->state),
			 e->probes, life, e->silence_ms / 1e3);
		break;
	}
	default:
		return;
	}
	fprintf(o->f, "%-8s %-7u %-16s %-10u %-*s %-*s %-8s %s\n", when, e->pid,
		e->pid ? e->comm : "?", e->netns, o->addr_width, local, o->addr_width, remote,
		event_name(e->type), detail);
}

void out_header(const struct out_ctx *o)
{
	if (o->json)
		return;
	fprintf(o->f, "%-8s %-7s %-16s %-10s %-*s %-*s %-8s %s\n", "TIME", "PID", "COMM",
		"NETNS", o->addr_width, "LADDR:LPORT", o->addr_width, "RADDR:RPORT", "EVENT",
		"DETAIL");
}

void out_event(const struct out_ctx *o, const struct ka_event *e)
{
	if (e->type == EV_CLOSE)	/* shows in the summary only */
		return;
	if (o->json)
		json_event(o, e);
	else
		human_event(o, e);
	fflush(o->f);
}

static const char *end_name(enum conn_end end)
{
	return end == END_DEATH ? "death" : end == END_CLOSED ? "closed" : "open";
}

/* One connection's record as a JSON object; event NULL: no "event" key. */
static void json_record(FILE *f, const struct conn_record *r, __u64 end_ns, const char *event)
{
	fputc('{', f);
	if (event)
		fprintf(f, "\"event\":\"%s\",", event);
	put_json_conn_fields(f, r->netns, &r->t, r->pid, r->comm);
	fprintf(f, ",\"ka_source\":\"%s\",\"ka_idle_s\":%u,\"ka_intvl_s\":%u,\"ka_cnt\":%u,"
		"\"user_timeout_ms\":%u,\"probes_sent\":%u,\"answered\":%u,\"unanswered\":%u,"
		"\"end\":\"%s\"", ka_source_name(r->ka_source), r->idle_ms / 1000,
		r->intvl_ms / 1000, r->ka_cnt, r->user_timeout_ms, r->probes_sent, r->answers,
		r->unanswered, end_name(r->end));
	if (r->end == END_DEATH)
		fprintf(f, ",\"cause\":\"%s\",\"errno\":\"%s\"", cause_name(r->cause),
			errno_name(r->err));
	json_ms_or_null(f, "lifetime_ms", r->start_ns, end_ns);
	fputs("}\n", f);
}

void out_stats_file(FILE *f, const struct conn_table *tab)
{
	for (size_t i = 0; i < tab->n; i++)
		if (tab->all[i]->end != END_OPEN)
			json_record(f, tab->all[i], tab->all[i]->last_ns, NULL);
}

void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns)
{
	char local[ADDR_STR_LEN], remote[ADDR_STR_LEN];

	if (!o->json)
		fprintf(o->f, "\nSUMMARY: %zu connection(s) seen\n%-10s %-*s %-*s %-7s %-16s %6s %8s %s\n",
			tab->n, "NETNS", o->addr_width, "LADDR:LPORT", o->addr_width,
			"RADDR:RPORT", "PID", "COMM", "PROBES", "ANSWERED", "END");
	for (size_t i = 0; i < tab->n; i++) {
		const struct conn_record *r = tab->all[i];
		__u64 end_ns = r->end == END_OPEN ? now_ns : r->last_ns;

		if (o->json) {
			json_record(o->f, r, end_ns, "summary");
			continue;
		}
		format_endpoint(local, &r->t, 0);
		format_endpoint(remote, &r->t, 1);
		fprintf(o->f, "%-10u %-*s %-*s %-7u %-16s %6u %8u %s", r->netns, o->addr_width,
			local, o->addr_width, remote, r->pid, r->pid ? r->comm : "?",
			r->probes_sent, r->answers, end_name(r->end));
		if (r->end == END_DEATH)
			fprintf(o->f, " %s %s", cause_name(r->cause), errno_name(r->err));
		fputc('\n', o->f);
	}
	fflush(o->f);
}

void out_lost(const struct out_ctx *o, __u64 ringbuf_lost, __u64 conn_table_full,
	      __u64 hook_misses)
{
	if (!ringbuf_lost && !conn_table_full && !hook_misses)
		return;
	if (o->json)
		fprintf(o->f, "{\"event\":\"lost\",\"ringbuf_lost\":%llu,\"conn_table_full\":%llu,"
			"\"hook_misses\":%llu}\n", (unsigned long long)ringbuf_lost,
			(unsigned long long)conn_table_full, (unsigned long long)hook_misses);
	else
		fprintf(o->f, "LOST: %llu event record(s) dropped (ring buffer full), "
			"%llu connection(s) untracked (table full), %llu hook run(s) skipped "
			"by the kernel\n", (unsigned long long)ringbuf_lost,
			(unsigned long long)conn_table_full, (unsigned long long)hook_misses);
	fflush(o->f);
}
