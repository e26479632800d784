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
#include "args.h"
#include "decode.h"
#include "bpf_read.h"
#include "kernel.h"
#include "list.h"
#include "select.h"
#include "owner.h"
#include "snapshot.h"
#include "records.h"

enum list_format { FMT_COLUMNS, FMT_JSON, FMT_CSV };

struct list_opts {
	enum list_format format;
	struct conn_select sel;
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
"  tcpkawatch list --at-risk 600         # no keepalive, silent for 10 min\n"
"  tcpkawatch list --csv -N 4026531840   # one namespace, CSV with a header\n";

enum { OPT_CSV = 1000 };

static const struct argp_option list_options[] = {
	{ "json", 'j', NULL, 0, "One JSON object per connection and line", 0 },
	{ "csv", OPT_CSV, NULL, 0, "CSV with a header row", 0 },
	COMMON_OPTIONS,
	{},
};

static error_t list_parse(int key, char *arg, struct argp_state *state)
{
	struct list_opts *o = state->input;

	switch (key) {
	case 'j':
	case OPT_CSV:
		if (o->format != FMT_COLUMNS)
			usage_error("--json and --csv exclude each other");
		o->format = key == 'j' ? FMT_JSON : FMT_CSV;
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->sel.filter;
		state->child_inputs[1] = &o->sel;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

/* The biggest write: list's lines go out in blocks of this size */
#define LIST_OUT_LEN (256 << 10)

static void print_header(enum list_format f, int family)
{
	char line[RECORD_LINE_LEN];
	char *end = line;

	if (f == FMT_CSV)
		end = record_csv_header(line, &socket_record);
	else if (f == FMT_COLUMNS)
		end = record_titles(line, &socket_record, endpoint_width(family));
	fwrite(line, 1, end - line, stdout);
}

struct list_run {
	const struct list_opts *opts;
	struct owner_table *owners;
	size_t shown;
	/* lines go straight here and out with write(2): stdio would copy them */
	char *out;
	size_t out_len;
	int write_errno;	/* the first write error, 0 if none */
};

static void flush_out(struct list_run *run)
{
	size_t done = 0;

	while (done < run->out_len && !run->write_errno) {
		ssize_t n = write(STDOUT_FILENO, run->out + done, run->out_len - done);

		if (n > 0)
			done += n;
		else if (n == 0)
			run->write_errno = EIO;
		else if (errno != EINTR)
			run->write_errno = errno;
	}
	run->out_len = 0;
}

static void list_one(void *ctx, const struct list_record *r, __u32 netns)
{
	struct list_run *run = ctx;
	const struct list_opts *o = run->opts;
	char comm[TASK_COMM_LEN] = "", *line, *end;
	struct workload w;
	struct out_row row;
	__u32 pid = 0;

	if (!conn_selected(&o->sel, r))
		return;
	owner_table_find(run->owners, r->sock, &pid, comm);
	if (o->sel.filter.pid && pid != o->sel.filter.pid)
		return;
	if (run->out_len > LIST_OUT_LEN - RECORD_LINE_LEN)
		flush_out(run);
	row = (struct out_row){
		.netns = netns, .t = &r->t, .pid = pid, .comm = comm, .rec = r,
	};
	if (o->format != FMT_COLUMNS)	/* the columns have no workload */
		row.workload = workload_of(r->cgroup_id, &w);
	line = run->out + run->out_len;
	if (o->format == FMT_COLUMNS)
		end = record_columns(line, &socket_record, &row, endpoint_width(o->sel.filter.family));
	else if (o->format == FMT_JSON)
		end = record_json(line, &socket_record, &row);
	else
		end = record_csv(line, &socket_record, &row);
	run->out_len += end - line;
	run->shown++;
}

static int list(const struct list_opts *o)
{
	struct list_run run = { .opts = o };
	struct netns_skipped skipped;
	struct snapshot *snap;
	int err;

	if (check_privileges("list", PRIV_ITERATE | PRIV_NETNS, NULL) || check_btf())
		return 1;
	run.out = malloc(LIST_OUT_LEN);
	snap = run.out ? snapshot_open(o->format != FMT_COLUMNS, true) : NULL;
	if (!snap) {
		free(run.out);
		return 1;
	}
	print_header(o->format, o->sel.filter.family);
	fflush(stdout);
	err = snapshot_walk_owned(snap, o->sel.filter.netns, list_one, &run, &skipped,
				  &run.owners);
	flush_out(&run);
	netns_skipped_warn(&skipped);
	if (run.write_errno) {
		fprintf(stderr, "tcpkawatch: writing the list: %s\n", strerror(run.write_errno));
		err = -1;
	}
	if (o->format == FMT_COLUMNS)
		fprintf(stderr, "%zu connection(s)\n", run.shown);
	owner_table_free(run.owners);
	snapshot_close(snap);
	free(run.out);
	return err ? 1 : 0;
}

int list_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &conn_filter_argp, 0, NULL, 0 }, { &select_argp, 0, NULL, 0 }, {},
	};
	static const struct argp argp = {
		.options = list_options,
		.parser = list_parse,
		.doc = list_doc,
		.children = children,
	};
	struct list_opts o = { .sel = CONN_SELECT_INIT };

	parse_command(&argp, "tcpkawatch list", argc, argv, &o);
	return list(&o);
}
