// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "output.h"
#include "records.h"

static void put_line(const struct out_ctx *o, const struct record_kind *k,
		     const struct out_row *row)
{
	char line[RECORD_LINE_LEN];
	char *end = o->json ? record_json(line, k, row)
			    : record_columns(line, k, row, o->endpoint_width);

	fwrite(line, 1, end - line, o->f);
}

static void put_titles(const struct out_ctx *o, const struct record_kind *k)
{
	char line[RECORD_LINE_LEN];
	const char *end = record_titles(line, k, o->endpoint_width);

	fwrite(line, 1, end - line, o->f);
}

void out_header(const struct out_ctx *o)
{
	if (!o->json)	/* every event has the same columns */
		put_titles(o, event_record(EV_PROBE));
}

void out_event(const struct out_ctx *o, const struct ka_event *e)
{
	const struct record_kind *k = event_record(e->type);
	struct workload w;
	struct out_row row = {
		.netns = e->netns, .t = &e->t, .pid = e->pid, .comm = e->comm,
		.rec = e, .ctx = &o->realtime_offset_ns,
	};

	if (!k)		/* EV_CLOSE shows in the summary only */
		return;
	if (o->json)	/* the columns have no workload */
		row.workload = workload_of(e->cgroup_id, &w);
	put_line(o, k, &row);
	fflush(o->f);
}

/* A connection's record as a row: *w holds its workload (w NULL: for
 * the columns, which have none) */
static struct out_row connection_row(const struct conn_record *r, const __u64 *end_ns,
				     struct workload *w)
{
	return (struct out_row){
		.netns = r->netns, .t = &r->t, .pid = r->pid, .comm = r->comm,
		.workload = w ? workload_of(r->cgroup_id, w) : NULL, .rec = r, .ctx = end_ns,
	};
}

static void put_connection(const struct out_ctx *o, const struct conn_record *r, __u64 end_ns)
{
	struct workload w;
	struct out_row row = connection_row(r, &end_ns, o->json ? &w : NULL);

	put_line(o, &connection_record, &row);
}

int out_stats_record(int fd, const struct conn_record *r)
{
	char line[RECORD_LINE_LEN];
	struct workload w;
	struct out_row row = connection_row(r, &r->last_ns, &w);
	size_t len = record_json(line, &connection_record, &row) - line, done = 0;

	/* One write (a line up to PIPE_BUF goes to a pipe whole); again after
	 * a signal (no SA_RESTART), and the rest after a short one. */
	while (done < len) {
		ssize_t n = write(fd, line + done, len - done);

		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		if (n > 0)
			done += n;
	}
	return 0;
}

struct summary_walk {
	const struct out_ctx *o;
	__u64 now_ns;
	bool open_only;
	__u64 shown;
};

static void summary_line(void *ctx, const struct conn_record *r)
{
	struct summary_walk *w = ctx;

	if (w->open_only && r->end != END_OPEN)
		return;
	put_connection(w->o, r, r->end == END_OPEN ? w->now_ns : r->last_ns);
	w->shown++;
}

void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns,
		 bool open_only)
{
	struct summary_walk w = { .o = o, .now_ns = now_ns, .open_only = open_only };
	struct summary_counts c = { .connections = tab->seen };
	struct out_row row = { .rec = &c };

	if (!o->json) {
		fprintf(o->f, "\nSUMMARY: %llu connection(s) seen\n", (unsigned long long)tab->seen);
		put_titles(o, &connection_record);
	}
	conn_table_for_each(tab, summary_line, &w);
	c.not_shown = tab->seen - w.shown;
	if (o->json)
		put_line(o, &summary_record, &row);
	else if (c.not_shown)
		fprintf(o->f, "(%llu more not shown: %s)\n", (unsigned long long)c.not_shown,
			open_only ? "ended, their records are in the stats file"
				  : "the summary keeps the first " SUMMARY_KEEP_STR " that ended");
	fflush(o->f);
}

void out_lost(const struct out_ctx *o, const struct lost_counts *l)
{
	struct out_row row = { .rec = l };

	if (!l->ringbuf_lost && !l->untracked_connections && !l->hook_misses)
		return;
	if (o->json)
		put_line(o, &lost_record, &row);
	else
		print_lost(o->f, "LOST: ", l);
	fflush(o->f);
}

void print_lost(FILE *f, const char *prefix, const struct lost_counts *l)
{
	fprintf(f, "%s%llu event record(s) dropped (ring buffer full), %llu connection(s) "
		"untracked (table full), %llu hook run(s) skipped by the kernel\n", prefix,
		(unsigned long long)l->ringbuf_lost, (unsigned long long)l->untracked_connections,
		(unsigned long long)l->hook_misses);
}
