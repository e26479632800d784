// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch kill`: close the connections list's selectors pick, in every
 * network namespace: the kernel destroys the local end (ECONNABORTED to
 * its application, a RST to the peer), as `ss -K` does. */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include "args.h"
#include "array.h"
#include "kernel.h"
#include "kill.h"
#include "netns.h"
#include "owner.h"
#include "records.h"
#include "select.h"
#include "snapshot.h"
#include "sock_destroy.h"
#include "workload.h"

struct kill_opts {
	struct conn_select sel;
	bool json;
	bool dry_run;
};

/* A selected socket and its owner */
struct victim {
	struct list_record r;
	__u32 netns;
	__u32 pid;
	char comm[TASK_COMM_LEN];
	int err;		/* what closing it gave */
};

struct kill_run {
	const struct kill_opts *o;
	struct owner_table *owners;
	struct victim *v;
	size_t n, cap;
	bool out_of_memory;
	struct sock_killer *killer;
	struct list_record *rows;	/* one namespace's victims' records */
	int *errs;
};

/* a victim's err before its namespace was entered */
#define NOT_REACHED (-1)

static const char kill_doc[] =
"Close the TCP connections that list's selectors pick, in every network\n"
"namespace: the kernel destroys the local end of each, as `ss -K` does;\n"
"its application gets ECONNABORTED (and can reconnect), the peer a RST.\n"
"It needs a selector (-p, -P, -N, --at-risk, --probing, --silent, --tuple,\n"
"--container-id, --pod-uid): it never closes everything. Listening\n"
"sockets only with --state LISTEN; TIME_WAIT and half-open requests never.\n"
"Prints what it closed and what it could not (and why); exit status 1 if\n"
"anything failed.\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch kill --probing 1 --dry-run   # what would go: peers not answering\n"
"  tcpkawatch kill --probing 3             # close them\n"
"  tcpkawatch kill --at-risk 3600 -P 5432  # no keepalive, silent for an hour\n"
"  tcpkawatch kill -N 4026532176 --tuple 10.0.0.2:41000,10.0.0.1:5432\n"
"  tcpkawatch kill --pod-uid 6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b --silent 600\n";

enum { OPT_DRY_RUN = 1000 };

static const struct argp_option kill_options[] = {
	{ "dry-run", OPT_DRY_RUN, NULL, 0, "Only print what would be closed, in list's format", 0 },
	{ "json", 'j', NULL, 0, "One JSON object per connection and line", 0 },
	COMMON_OPTIONS,
	{},
};

static error_t kill_parse(int key, char *arg, struct argp_state *state)
{
	struct kill_opts *o = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->sel.filter;
		state->child_inputs[1] = &o->sel;
		state->child_inputs[2] = &o->sel;
		break;
	case OPT_DRY_RUN:
		o->dry_run = true;
		break;
	case 'j':
		o->json = true;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

static void select_one(void *ctx, const struct list_record *r, __u32 netns)
{
	struct kill_run *run = ctx;
	const struct kill_opts *o = run->o;
	struct victim v = { .r = *r, .netns = netns };

	/* full sockets only; a listener only when asked for by name */
	if (!r->full || (r->state == TCP_LISTEN && o->sel.state != TCP_LISTEN) ||
	    !conn_selected(&o->sel, r))
		return;
	owner_table_find(run->owners, r->sock, &v.pid, v.comm);
	if (o->sel.filter.pid && v.pid != o->sel.filter.pid)
		return;
	if (ARRAY_RESERVE(run->v, run->cap, run->n, 64)) {
		run->out_of_memory = true;
		return;
	}
	run->v[run->n++] = v;
}

static int by_netns(const void *a, const void *b)
{
	__u32 x = ((const struct victim *)a)->netns, y = ((const struct victim *)b)->netns;

	return x < y ? -1 : x > y;
}

/* In one namespace of the walk: close its victims (a run of them in the
 * array, sorted by namespace) */
static int close_in_netns(void *ctx, __u32 netns)
{
	struct kill_run *run = ctx;
	struct victim key = { .netns = netns }, *v = bsearch(&key, run->v, run->n, sizeof(*v),
							     by_netns);
	size_t first, count;

	if (!v)
		return 0;
	for (first = v - run->v; first > 0 && run->v[first - 1].netns == netns; first--)
		;
	for (count = 0; first + count < run->n && run->v[first + count].netns == netns; count++)
		run->rows[count] = run->v[first + count].r;
	sock_killer_run(run->killer, run->rows, count, run->errs);
	for (size_t i = 0; i < count; i++)
		run->v[first + i].err = run->errs[i];
	return 0;
}

/* Close every victim, in one walk of the namespaces; 0, or -1 with one
 * line on stderr */
static int close_all(struct kill_run *run)
{
	struct netns_skipped skipped;
	int err;

	qsort(run->v, run->n, sizeof(*run->v), by_netns);
	run->rows = calloc(run->n ? run->n : 1, sizeof(*run->rows));
	run->errs = calloc(run->n ? run->n : 1, sizeof(*run->errs));
	if (!run->rows || !run->errs) {
		fprintf(stderr, "tcpkawatch: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < run->n; i++)
		run->v[i].err = NOT_REACHED;
	err = for_each_netns(run->o->sel.filter.netns, close_in_netns, run, &skipped);
	netns_skipped_warn(&skipped);
	/* a namespace the selection walk entered a moment ago: gone, or
	 * refused now */
	for (size_t i = 0; i < run->n; i++)
		if (run->v[i].err == NOT_REACHED)
			run->v[i].err = skipped.count ? skipped.first_errno : ENOENT;
	return err < 0 ? -1 : 0;
}

static void print_rows(const struct kill_run *run, const struct record_kind *kind)
{
	char line[RECORD_LINE_LEN];
	int width = endpoint_width(run->o->sel.filter.family);

	if (!run->o->json) {
		const char *end = record_titles(line, kind, width);

		fwrite(line, 1, end - line, stdout);
	}
	for (size_t i = 0; i < run->n; i++) {
		const struct victim *v = &run->v[i];
		struct workload w;
		struct out_row row = {
			.netns = v->netns, .t = &v->r.t, .pid = v->pid, .comm = v->comm,
			.rec = &v->r, .ctx = kind == &kill_record ? (const void *)&v->err : NULL,
		};
		char *end;

		if (run->o->json) {
			row.workload = workload_of(v->r.cgroup_id, &w);
			end = record_json(line, kind, &row);
		} else {
			end = record_columns(line, kind, &row, width);
		}
		fwrite(line, 1, end - line, stdout);
	}
}

static int kill_connections(const struct kill_opts *o)
{
	struct kill_run run = { .o = o };
	struct netns_skipped skipped;
	struct snapshot *snap;
	size_t failed = 0;
	int err = 1;

	if (check_privileges(o->dry_run ? "kill --dry-run" : "kill",
			     PRIV_ITERATE | PRIV_NETNS | (o->dry_run ? 0 : PRIV_SOCK_DESTROY), NULL) ||
	    check_btf())
		return 1;
	if (!o->dry_run && !(run.killer = sock_killer_open()))
		return 1;
	snap = snapshot_open(false, false);
	if (!snap)
		goto out;
	if (snapshot_walk_owned(snap, o->sel.filter.netns, select_one, &run, &skipped,
				&run.owners))
		goto out;
	netns_skipped_warn(&skipped);
	if (run.out_of_memory) {
		fprintf(stderr, "tcpkawatch: out of memory\n");
		goto out;
	}
	if (!o->dry_run && close_all(&run))
		goto out;
	print_rows(&run, o->dry_run ? &socket_record : &kill_record);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tcpkawatch: writing what was closed: %s\n", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < run.n; i++)
		failed += run.v[i].err != 0;
	if (o->dry_run)
		fprintf(stderr, "%zu connection(s) would be closed\n", run.n);
	else
		fprintf(stderr, "%zu connection(s) closed, %zu could not be (%s)\n", run.n - failed,
			failed, sock_killer_how(run.killer));
	err = failed ? 1 : 0;
out:
	owner_table_free(run.owners);
	snapshot_close(snap);
	sock_killer_close(run.killer);
	free(run.v);
	free(run.rows);
	free(run.errs);
	return err;
}

int kill_main(int argc, char **argv)
{
	static const struct argp_child children[] = {
		{ &conn_filter_argp, 0, NULL, 0 }, { &select_argp, 0, NULL, 0 },
		{ &select_kill_argp, 0, NULL, 0 }, {},
	};
	static const struct argp argp = {
		.options = kill_options,
		.parser = kill_parse,
		.doc = kill_doc,
		.children = children,
	};
	struct kill_opts o = { .sel = CONN_SELECT_INIT };

	parse_command(&argp, "tcpkawatch kill", argc, argv, &o);
	if (!conn_select_narrows(&o.sel))
		usage_error("kill needs a selector (-p, -P, -N, --at-risk, --probing, --silent, "
			    "--tuple, --container-id, --pod-uid): it never closes everything");
	if (o.sel.tuple_set && !o.sel.filter.netns)
		usage_error("--tuple needs -N: a tuple names a connection in one namespace");
	return kill_connections(&o);
}
