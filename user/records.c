// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "aggregate.h"
#include "decode.h"
#include "records.h"
#include "text.h"

#define NUM(v, x)	((v)->kind = VAL_NUM, (v)->num = (x))
#define STR(v, s)	((v)->kind = VAL_STR, (v)->str = (s))

/* A getter whose value is one expression of row */
#define GET_NUM(name, expr) \
	static void name(const struct out_row *row, struct field_val *v) { NUM(v, (expr)); }
#define GET_STR(name, expr) \
	static void name(const struct out_row *row, struct field_val *v) { STR(v, (expr)); }
/* a record kind's name */
#define GET_CONST(name, text) \
	static void name(const struct out_row *row, struct field_val *v) \
	{ (void)row; STR(v, text); }
/* an address (format_ip) or "addr:port" (format_endpoint) of one end */
#define GET_ADDR(name, format, remote) \
	static void name(const struct out_row *row, struct field_val *v) \
	{ STR(v, (format(v->buf, row->t, remote), v->buf)); }

/* Who the connection is: the same fields, in the same order, first in
 * every record of a connection. */
GET_NUM(get_netns, row->netns)
GET_NUM(get_family, row->t->family == AF_INET ? 4 : 6)
GET_ADDR(get_laddr, format_ip, 0)
GET_NUM(get_lport, row->t->sport)
GET_ADDR(get_local, format_endpoint, 0)
GET_ADDR(get_raddr, format_ip, 1)
GET_NUM(get_rport, row->t->dport)
GET_ADDR(get_remote, format_endpoint, 1)

static void get_pid(const struct out_row *row, struct field_val *v)
{
	if (row->pid)
		NUM(v, row->pid);
}

static void get_comm(const struct out_row *row, struct field_val *v)
{
	if (row->pid)
		STR(v, row->comm);
}

/* "": the cgroup names none (or its path is too long to show) */
static void workload_str(struct field_val *v, const char *s)
{
	if (*s)
		STR(v, s);
}

static void get_cgroup(const struct out_row *row, struct field_val *v)
{
	if (row->workload)
		workload_str(v, row->workload->cgroup);
}

static void get_container_id(const struct out_row *row, struct field_val *v)
{
	if (row->workload)
		workload_str(v, row->workload->container_id);
}

static void get_pod_uid(const struct out_row *row, struct field_val *v)
{
	if (row->workload)
		workload_str(v, row->workload->pod_uid);
}

#define CONN_FIELDS \
	{ "netns", "NETNS", -10, false, get_netns }, \
	{ "family", NULL, 0, false, get_family }, \
	{ "laddr", NULL, 0, false, get_laddr }, \
	{ "lport", NULL, 0, false, get_lport }, \
	{ NULL, "LADDR:LPORT", -FIELD_ENDPOINT, false, get_local }, \
	{ "raddr", NULL, 0, false, get_raddr }, \
	{ "rport", NULL, 0, false, get_rport }, \
	{ NULL, "RADDR:RPORT", -FIELD_ENDPOINT, false, get_remote }, \
	{ "pid", "PID", 7, false, get_pid }, \
	{ "comm", "COMM", -15, false, get_comm }, \
	{ "cgroup", NULL, 0, false, get_cgroup }, \
	{ "container_id", NULL, 0, false, get_container_id }, \
	{ "pod_uid", NULL, 0, false, get_pod_uid }

/* watch's events */
#define EVENT(row) ((const struct ka_event *)(row)->rec)

GET_STR(get_event, event_name(EVENT(row)->type))

static long long realtime_ns(const struct out_row *row)
{
	return (long long)EVENT(row)->ts_ns + *(const long long *)row->ctx;
}

static void get_ts(const struct out_row *row, struct field_val *v)
{
	long long ts = realtime_ns(row);

	v->kind = VAL_DECIMAL;
	snprintf(v->buf, sizeof(v->buf), "%lld.%06lld", ts / 1000000000, ts % 1000000000 / 1000);
}

static void get_time(const struct out_row *row, struct field_val *v)
{
	time_t secs = realtime_ns(row) / 1000000000;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(v->buf, sizeof(v->buf), "%H:%M:%S", &tm);
	STR(v, v->buf);
}

GET_STR(get_ev_source, ka_source_name(EVENT(row)->ka_source))
GET_NUM(get_ev_unanswered, EVENT(row)->probes)
GET_NUM(get_ev_cnt, EVENT(row)->probes_max)
GET_NUM(get_ev_idle, EVENT(row)->idle_ms / 1000)
GET_NUM(get_ev_intvl, EVENT(row)->intvl_ms / 1000)
GET_NUM(get_ev_user_timeout, EVENT(row)->user_timeout_ms)
GET_STR(get_ev_state, tcp_state_name(EVENT(row)->state))
GET_STR(get_ev_cause, cause_name(EVENT(row)->cause))
GET_STR(get_ev_errno, errno_name(EVENT(row)->err))

static void get_ev_lifetime(const struct out_row *row, struct field_val *v)
{
	const struct ka_event *e = EVENT(row);

	if (e->start_ns && e->ts_ns >= e->start_ns)
		NUM(v, (e->ts_ns - e->start_ns) / 1000000);
}

GET_NUM(get_ev_silence, EVENT(row)->silence_ms)

/* DETAIL: what the event's own fields say, in a few words */
static void get_detail(const struct out_row *row, struct field_val *v)
{
	const struct ka_event *e = EVENT(row);
	char life[32] = "?";

	switch (e->type) {
	case EV_PROBE:
		snprintf(v->buf, sizeof(v->buf), "%u/%u idle=%us intvl=%us%s (%s)", e->probes,
			 e->probes_max, e->idle_ms / 1000, e->intvl_ms / 1000,
			 e->user_timeout_ms ? " user_timeout" : "", ka_source_name(e->ka_source));
		break;
	case EV_ANSWERED:
		snprintf(v->buf, sizeof(v->buf), "after %u unanswered", e->probes);
		break;
	default:
		if (e->start_ns && e->ts_ns >= e->start_ns)
			snprintf(life, sizeof(life), "%.3fs", (e->ts_ns - e->start_ns) / 1e9);
		snprintf(v->buf, sizeof(v->buf), "%s %s %s unanswered=%u lifetime=%s silence=%.3fs",
			 cause_name(e->cause), errno_name(e->err), tcp_state_name(e->state),
			 e->probes, life, e->silence_ms / 1e3);
	}
	STR(v, v->buf);
}

#define EVENT_HEAD \
	{ NULL, "TIME", -8, false, get_time }, \
	{ "event", "EVENT", -8, false, get_event }, \
	{ "ts", NULL, 0, false, get_ts }, \
	CONN_FIELDS, \
	{ "ka_source", NULL, 0, false, get_ev_source }, \
	{ NULL, "DETAIL", -1, false, get_detail }, \
	{ "state", NULL, 0, false, get_ev_state }, \
	{ "unanswered", NULL, 0, false, get_ev_unanswered }

static const struct field probe_fields[] = {
	EVENT_HEAD,
	{ "ka_cnt", NULL, 0, false, get_ev_cnt },
	{ "ka_idle_s", NULL, 0, false, get_ev_idle },
	{ "ka_intvl_s", NULL, 0, false, get_ev_intvl },
	{ "user_timeout_ms", NULL, 0, false, get_ev_user_timeout },
};

static const struct field answered_fields[] = {
	EVENT_HEAD,
};

static const struct field death_fields[] = {
	EVENT_HEAD,
	{ "cause", NULL, 0, false, get_ev_cause },
	{ "errno", NULL, 0, false, get_ev_errno },
	{ "lifetime_ms", NULL, 0, false, get_ev_lifetime },
	{ "silence_ms", NULL, 0, false, get_ev_silence },
	{ "user_timeout_ms", NULL, 0, false, get_ev_user_timeout },
};

static const struct record_kind probe_record = RECORD_KIND(probe_fields);
static const struct record_kind answered_record = RECORD_KIND(answered_fields);
static const struct record_kind death_record = RECORD_KIND(death_fields);

const struct record_kind *event_record(int type)
{
	switch (type) {
	case EV_PROBE:
		return &probe_record;
	case EV_ANSWERED:
		return &answered_record;
	case EV_DEATH:
		return &death_record;
	default:
		return NULL;
	}
}

/* a connection's record */
#define CONN(row) ((const struct conn_record *)(row)->rec)

GET_CONST(get_connection, "connection")

GET_STR(get_source, ka_source_name(CONN(row)->ka_source))
GET_NUM(get_idle, CONN(row)->idle_ms / 1000)
GET_NUM(get_intvl, CONN(row)->intvl_ms / 1000)
GET_NUM(get_cnt, CONN(row)->ka_cnt)
GET_NUM(get_user_timeout, CONN(row)->user_timeout_ms)
GET_NUM(get_probes_sent, CONN(row)->probes_sent)
GET_NUM(get_answers, CONN(row)->answers)
GET_NUM(get_unanswered, CONN(row)->unanswered)

static void get_end(const struct out_row *row, struct field_val *v)
{
	enum conn_end end = CONN(row)->end;

	STR(v, end == END_DEATH ? "death" : end == END_CLOSED ? "closed" : "open");
}

static void get_cause(const struct out_row *row, struct field_val *v)
{
	if (CONN(row)->end == END_DEATH)
		STR(v, cause_name(CONN(row)->cause));
}

static void get_errno(const struct out_row *row, struct field_val *v)
{
	if (CONN(row)->end == END_DEATH)
		STR(v, errno_name(CONN(row)->err));
}

static void get_lifetime(const struct out_row *row, struct field_val *v)
{
	__u64 start = CONN(row)->start_ns, end = *(const __u64 *)row->ctx;

	if (start && end >= start)
		NUM(v, (end - start) / 1000000);
}

static const struct field connection_fields[] = {
	{ "event", NULL, 0, false, get_connection },
	CONN_FIELDS,
	{ "ka_source", NULL, 0, false, get_source },
	{ "ka_idle_s", NULL, 0, false, get_idle },
	{ "ka_intvl_s", NULL, 0, false, get_intvl },
	{ "ka_cnt", NULL, 0, false, get_cnt },
	{ "user_timeout_ms", NULL, 0, false, get_user_timeout },
	{ "probes_sent", "PROBES", 6, false, get_probes_sent },
	{ "answers", "ANSWERS", 7, false, get_answers },
	{ "unanswered", NULL, 0, false, get_unanswered },
	{ "end", "END", -6, false, get_end },
	{ "cause", "CAUSE", -12, false, get_cause },
	{ "errno", "ERRNO", -12, false, get_errno },
	{ "lifetime_ms", NULL, 0, false, get_lifetime },
};

const struct record_kind connection_record = RECORD_KIND(connection_fields);

/* the end of the summary */
#define SUMMARY(row) ((const struct summary_counts *)(row)->rec)

GET_CONST(get_summary, "summary")

GET_NUM(get_connections, SUMMARY(row)->connections)
GET_NUM(get_not_shown, SUMMARY(row)->not_shown)

static const struct field summary_fields[] = {
	{ "event", NULL, 0, false, get_summary },
	{ "connections", NULL, 0, false, get_connections },
	{ "not_shown", NULL, 0, false, get_not_shown },
};

const struct record_kind summary_record = RECORD_KIND(summary_fields);

/* what was lost */
#define LOST(row) ((const struct lost_counts *)(row)->rec)

GET_CONST(get_lost, "lost")

GET_NUM(get_ringbuf_lost, LOST(row)->ringbuf_lost)
GET_NUM(get_untracked, LOST(row)->untracked_connections)
GET_NUM(get_hook_misses, LOST(row)->hook_misses)

static const struct field lost_fields[] = {
	{ "event", NULL, 0, false, get_lost },
	{ "ringbuf_lost", NULL, 0, false, get_ringbuf_lost },
	{ "untracked_connections", NULL, 0, false, get_untracked },
	{ "hook_misses", NULL, 0, false, get_hook_misses },
};

const struct record_kind lost_record = RECORD_KIND(lost_fields);

/* list's sockets. TIME_WAIT and NEW_SYN_RECV sockets are not full
 * sockets: no keepalive settings, no timers (null). */
#define SOCK(row) ((const struct list_record *)(row)->rec)
/* a number a full socket has: null for TIME_WAIT and NEW_SYN_RECV */
#define GET_FULL_NUM(name, expr) \
	static void name(const struct out_row *row, struct field_val *v) \
	{ if (SOCK(row)->full) NUM(v, (expr)); }

static const char *const timer_names[] = {
	[LT_NONE] = "off", [LT_ON] = "on", [LT_KEEPALIVE] = "keepalive", [LT_PERSIST] = "persist",
};

static const char *timer_name(int t)
{
	return t >= 0 && t <= LT_PERSIST ? timer_names[t] : "unknown";
}

GET_STR(get_state, tcp_state_name(SOCK(row)->state))

static void get_keepalive(const struct out_row *row, struct field_val *v)
{
	v->kind = VAL_BOOL;
	v->num = SOCK(row)->full && SOCK(row)->keepalive;
}

GET_FULL_NUM(get_sk_idle, SOCK(row)->ka_idle_ms / 1000)
GET_FULL_NUM(get_sk_intvl, SOCK(row)->ka_intvl_ms / 1000)
GET_FULL_NUM(get_sk_cnt, SOCK(row)->ka_cnt)
GET_STR(get_sk_source, ka_source_name(SOCK(row)->full ? SOCK(row)->ka_source : KA_SRC_NONE))
GET_FULL_NUM(get_sk_user_timeout, SOCK(row)->user_timeout_ms)
GET_FULL_NUM(get_probes_out, SOCK(row)->probes_out)

static void get_timer(const struct out_row *row, struct field_val *v)
{
	if (SOCK(row)->full)
		STR(v, timer_name(SOCK(row)->timer));
}

GET_FULL_NUM(get_timer_ms, SOCK(row)->timer_ms)

/* TIMER as ss shows it: name,time,count; a timer due now or overdue (it
 * has not run yet) shows 0.0s */
static void get_timer_column(const struct out_row *row, struct field_val *v)
{
	const struct list_record *r = SOCK(row);
	char *p;

	if (!r->full)
		return;
	if (r->timer == LT_NONE) {
		STR(v, "off");
		return;
	}
	p = stpcpy(stpcpy(v->buf, timer_name(r->timer)), ",");
	p = text_tenths(p, r->timer_ms > 0 ? r->timer_ms : 0);
	p = text_u64(stpcpy(p, "s,"), r->timer == LT_ON ? r->retransmits : r->probes_out);
	*p = '\0';
	STR(v, v->buf);
}

GET_FULL_NUM(get_silence, SOCK(row)->silence_ms)
GET_FULL_NUM(get_last_send, SOCK(row)->last_send_ms)

static void get_seen_probes(const struct out_row *row, struct field_val *v)
{
	if (SOCK(row)->seen)
		NUM(v, SOCK(row)->probes_sent);
}

static void get_seen_answers(const struct out_row *row, struct field_val *v)
{
	if (SOCK(row)->seen)
		NUM(v, SOCK(row)->answers);
}

GET_NUM(get_uid, SOCK(row)->uid)

static void get_inode(const struct out_row *row, struct field_val *v)
{
	if (SOCK(row)->ino)
		NUM(v, SOCK(row)->ino);
}

static const struct field socket_fields[] = {
	CONN_FIELDS,
	{ "state", "STATE", -11, false, get_state },
	{ "keepalive", "KA", -3, false, get_keepalive },
	{ "ka_idle_s", "IDLE", 5, false, get_sk_idle },
	{ "ka_intvl_s", "INTVL", 5, false, get_sk_intvl },
	{ "ka_cnt", "CNT", 3, false, get_sk_cnt },
	{ "ka_source", "SOURCE", -8, false, get_sk_source },
	{ "user_timeout_ms", NULL, 0, false, get_sk_user_timeout },
	{ "probes_out", "PROBES", 6, false, get_probes_out },
	{ "timer", NULL, 0, false, get_timer },
	{ "timer_ms", NULL, 0, false, get_timer_ms },
	{ NULL, "TIMER", -16, false, get_timer_column },
	{ "silence_ms", "SILENCE", 8, true, get_silence },
	{ "last_send_ms", NULL, 0, false, get_last_send },
	{ "probes_sent", NULL, 0, false, get_seen_probes },
	{ "answers", NULL, 0, false, get_seen_answers },
	{ "uid", NULL, 0, false, get_uid },
	{ "inode", NULL, 0, false, get_inode },
};

const struct record_kind socket_record = RECORD_KIND(socket_fields);

/* kill's result for one socket (.rec: its struct list_record; .ctx: an
 * int, 0 or the errno of why it could not be closed) */
#define KILL_ERR(row) (*(const int *)(row)->ctx)

GET_CONST(get_kill, "kill")
GET_STR(get_kill_result, KILL_ERR(row) ? "failed" : "closed")

static void get_kill_errno(const struct out_row *row, struct field_val *v)
{
	if (KILL_ERR(row))
		STR(v, errno_name(KILL_ERR(row)));
}

static const struct field kill_fields[] = {
	{ "event", NULL, 0, false, get_kill },
	CONN_FIELDS,
	{ "state", "STATE", -11, false, get_state },
	{ "ka_source", "SOURCE", -8, false, get_sk_source },
	{ "probes_out", "PROBES", 6, false, get_probes_out },
	{ "silence_ms", "SILENCE", 8, true, get_silence },
	{ "result", "RESULT", -7, false, get_kill_result },
	{ "errno", "ERRNO", -12, false, get_kill_errno },
};

const struct record_kind kill_record = RECORD_KIND(kill_fields);

bool is_probing(const struct list_record *r)
{
	return r->full && r->timer == LT_KEEPALIVE && r->probes_out > 0;
}
