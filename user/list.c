// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch list`: every TCP connection of every network namespace with
 * its keepalive state, from iter/tcp entered per namespace. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "args.h"
#include "decode.h"
#include "kernel.h"
#include "list.h"
#include "output.h"
#include "owner.h"
#include "snapshot.h"

enum list_format { FMT_COLUMNS, FMT_JSON, FMT_CSV };

struct list_opts {
	enum list_format format;
	struct conn_filter filter;
	int state;		/* 0: any */
	long at_risk_s;		/* -1: off */
};

static const char list_doc[] =
"List every TCP connection in every network namespace with its keepalive\n"
"state: on or off, effective idle/interval/count and where they came from\n"
"(app, enforced, none), unanswered probes, the timer as ss shows it, time\n"
"since the last segment received and sent, TCP_USER_TIMEOUT, owner.\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch list                       # everything, in columns\n"
"  tcpkawatch list --state ESTABLISHED -j  # JSON, one object per line\n"
"  tcpkawatch list --at-risk 600         # established, no keepalive, silent 10 min\n"
"  tcpkawatch list --csv -N 4026531840   # one namespace, CSV with a header\n";

enum { OPT_CSV = 1000, OPT_STATE, OPT_AT_RISK };

static const struct argp_option list_options[] = {
	{ "json", 'j', NULL, 0, "One JSON object per connection and line", 0 },
	{ "csv", OPT_CSV, NULL, 0, "CSV with a header row", 0 },
	{ "state", OPT_STATE, "STATE", 0, "Only this state (ESTABLISHED, LISTEN, TIME_WAIT, ...)", 0 },
	{ "at-risk", OPT_AT_RISK, "SECONDS", 0,
	  "Only half-open candidates: established, no keepalive, silent for SECONDS", 0 },
	HELP_OPTION,
	{},
};

static error_t list_parse(int key, char *arg, struct argp_state *state)
{
	struct list_opts *o = state->input;
	unsigned long v;

	switch (key) {
	case 'j':
	case OPT_CSV:
		if (o->format != FMT_COLUMNS)
			usage_error("--json and --csv exclude each other");
		o->format = key == 'j' ? FMT_JSON : FMT_CSV;
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->filter;
		break;
	case OPT_STATE:
		o->state = tcp_state_by_name(arg);
		if (!o->state)
			usage_error("invalid state '%s': ESTABLISHED, SYN_SENT, LISTEN, TIME_WAIT, ...",
				    arg);
		break;
	case OPT_AT_RISK:
		if (!parse_ulong(arg, 0, 31536000, &v))
			usage_error("invalid --at-risk '%s': seconds", arg);
		o->at_risk_s = v;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

/* All filters but the owner's (-p): those come first, the owner lookup
 * after. The namespace filter is the walk's (snapshot_walk()). */
static bool wanted(const struct list_opts *o, const struct list_record *r)
{
	if (o->filter.family && r->t.family != o->filter.family)
		return false;
	if (o->filter.port && r->t.sport != o->filter.port && r->t.dport != o->filter.port)
		return false;
	if (o->state && r->state != o->state)
		return false;
	return o->at_risk_s < 0 || (r->state == TCP_ESTABLISHED && r->full && !r->keepalive &&
				    r->silence_ms >= o->at_risk_s * 1000ULL);
}

static const char *const timer_names[] = {
	[LT_NONE] = "off", [LT_ON] = "on", [LT_KEEPALIVE] = "keepalive", [LT_PERSIST] = "persist",
};

static const char *timer_name(int t)
{
	return t >= 0 && t <= LT_PERSIST ? timer_names[t] : "unknown";
}

static void print_header(enum list_format f)
{
	if (f == FMT_CSV)
		puts("netns,family,laddr,lport,raddr,rport,state,pid,comm,keepalive,ka_idle_s,"
		     "ka_intvl_s,ka_cnt,ka_source,probes_out,timer,timer_ms,silence_ms,"
		     "last_send_ms,user_timeout_ms,probes_sent,probes_answered,uid,inode");
	else if (f == FMT_COLUMNS)
		printf("%-10s %-11s %-27s %-27s %-7s %-15s %-3s %5s %5s %3s %-8s %6s %-16s %9s\n",
		       "NETNS", "STATE", "LADDR:LPORT", "RADDR:RPORT", "PID", "COMM", "KA", "IDLE",
		       "INTVL", "CNT", "SOURCE", "PROBES", "TIMER", "SILENCE");
}

static void print_csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* seen: what a running observer knows of the connection, or NULL */
static void print_record(enum list_format f, const struct list_record *r, __u32 netns, __u32 pid,
			 const char *comm, const struct conn_state *seen)
{
	char local[ADDR_STR_LEN], remote[ADDR_STR_LEN], timer[32];
	int fam = r->t.family == AF_INET ? 4 : 6;

	if (f == FMT_JSON) {
		fputs("{", stdout);
		json_conn_fields(stdout, netns, &r->t, pid, comm);
		printf(",\"state\":\"%s\",\"keepalive\":%s", tcp_state_name(r->state),
		       r->keepalive ? "true" : "false");
		if (r->full)
			printf(",\"ka_idle_s\":%u,\"ka_intvl_s\":%u,\"ka_cnt\":%u,\"ka_source\":\"%s\","
			       "\"probes_out\":%u,\"timer\":\"%s\",\"timer_ms\":%d,\"silence_ms\":%u,"
			       "\"last_send_ms\":%u,\"user_timeout_ms\":%u", r->ka_idle_ms / 1000,
			       r->ka_intvl_ms / 1000, r->ka_cnt, ka_source_name(r->ka_source),
			       r->probes_out, timer_name(r->timer), r->timer_ms, r->silence_ms,
			       r->last_send_ms, r->user_timeout_ms);
		else	/* TIME_WAIT, NEW_SYN_RECV: no full socket */
			printf(",\"ka_idle_s\":null,\"ka_intvl_s\":null,\"ka_cnt\":null,"
			       "\"ka_source\":\"none\",\"probes_out\":null,\"timer\":null,"
			       "\"timer_ms\":null,\"silence_ms\":null,\"last_send_ms\":null,"
			       "\"user_timeout_ms\":null");
		if (seen)
			printf(",\"probes_sent\":%u,\"probes_answered\":%u", seen->probes_sent,
			       seen->answers);
		else
			printf(",\"probes_sent\":null,\"probes_answered\":null");
		printf(",\"uid\":%u,\"inode\":%llu}\n", r->uid, (unsigned long long)r->ino);
		return;
	}
	if (f == FMT_CSV) {
		format_ip(&r->t, 0, local, sizeof(local));
		format_ip(&r->t, 1, remote, sizeof(remote));
		printf("%u,%d,%s,%u,%s,%u,%s,%u,", netns, fam, local, r->t.sport, remote, r->t.dport,
		       tcp_state_name(r->state), pid);
		print_csv_field(comm);
		if (r->full)
			printf(",%d,%u,%u,%u,%s,%u,%s,%d,%u,%u,%u", r->keepalive, r->ka_idle_ms / 1000,
			       r->ka_intvl_ms / 1000, r->ka_cnt, ka_source_name(r->ka_source),
			       r->probes_out, timer_name(r->timer), r->timer_ms, r->silence_ms,
			       r->last_send_ms, r->user_timeout_ms);
		else
			printf(",0,,,,none,,,,,,");
		if (seen)
			printf(",%u,%u", seen->probes_sent, seen->answers);
		else
			printf(",,");
		printf(",%u,%llu\n", r->uid, (unsigned long long)r->ino);
		return;
	}
	format_endpoint(&r->t, 0, local, sizeof(local));
	format_endpoint(&r->t, 1, remote, sizeof(remote));
	if (!r->full) {
		printf("%-10u %-11s %-27s %-27s %-7s %-15s %-3s\n", netns, tcp_state_name(r->state),
		       local, remote, "-", "-", "-");
		return;
	}
	if (r->timer == LT_NONE)
		snprintf(timer, sizeof(timer), "off");
	else
		snprintf(timer, sizeof(timer), "%s,%.1fs,%u", timer_name(r->timer), r->timer_ms / 1e3,
			 r->timer == LT_ON ? r->retransmits : r->probes_out);
	printf("%-10u %-11s %-27s %-27s %-7u %-15s %-3s %5u %5u %3u %-8s %6u %-16s %8.1fs\n", netns,
	       tcp_state_name(r->state), local, remote, pid, pid ? comm : "-",
	       r->keepalive ? "on" : "off", r->ka_idle_ms / 1000, r->ka_intvl_ms / 1000, r->ka_cnt,
	       ka_source_name(r->ka_source), r->probes_out, timer, r->silence_ms / 1e3);
}

struct list_run {
	const struct list_opts *opts;
	struct owner_table *owners;
	int observer_fd;	/* a running watch's conns map, or -1 */
	size_t shown;
};

static void list_one(void *ctx, const struct list_record *r, __u32 netns)
{
	struct list_run *run = ctx;
	struct conn_state cs, *seen = NULL;
	char comm[TASK_COMM_LEN] = "";
	__u32 pid = 0;

	if (!wanted(run->opts, r))
		return;
	owner_table_find(run->owners, r->ino, &pid, comm);
	if (run->opts->filter.pid && pid != run->opts->filter.pid)
		return;
	if (run->observer_fd >= 0 && r->full && !bpf_map_lookup_elem(run->observer_fd, &r->sk, &cs))
		seen = &cs;
	print_record(run->opts->format, r, netns, pid, comm, seen);
	run->shown++;
}

static int list(const struct list_opts *o)
{
	struct list_run run = { .opts = o, .observer_fd = -1 };
	struct snapshot *snap;
	int err;

	if (check_root() || check_btf())
		return 1;
	snap = snapshot_open();
	if (!snap)
		return 1;
	run.owners = snapshot_owners(snap);
	run.observer_fd = observer_conns_fd(sizeof(struct conn_state));
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);	/* a line per socket: write in bulk */
	print_header(o->format);
	err = snapshot_walk(snap, o->filter.netns, list_one, &run);
	fflush(stdout);
	if (o->format == FMT_COLUMNS)
		fprintf(stderr, "%zu connection(s)\n", run.shown);
	owner_table_free(run.owners);
	if (run.observer_fd >= 0)
		close(run.observer_fd);
	snapshot_close(snap);
	return err ? 1 : 0;
}

int list_main(int argc, char **argv)
{
	static const struct argp_child children[] = { { &conn_filter_argp, 0, NULL, 0 }, {} };
	static const struct argp argp = {
		.options = list_options,
		.parser = list_parse,
		.doc = list_doc,
		.children = children,
	};
	struct list_opts o = { .at_risk_s = -1 };

	parse_command(&argp, "tcpkawatch list", argc, argv, &o);
	return list(&o);
}
