// SPDX-License-Identifier: GPL-2.0
#include <string.h>
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
	struct out_row row = {
		.netns = e->netns, .t = &e->t, .pid = e->pid, .comm = e->comm,
		.rec = e, .ctx = &o->realtime_offset_ns,
	};

	if (!k)		/* EV_CLOSE shows in the summary only */
		return;
	put_line(o, k, &row);
	fflush(o->f);
}

static void put_connection(const struct out_ctx *o, const struct conn_record *r, __u64 end_ns)
{
	struct out_row row = {
		.netns = r->netns, .t = &r->t, .pid = r->pid, .comm = r->comm,
		.rec = r, .ctx = &end_ns,
	};

	put_line(o, &connection_record, &row);
}

void out_stats_file(FILE *f, const struct conn_table *tab)
{
	struct out_ctx o = { .f = f, .json = true };

	for (size_t i = 0; i < tab->n; i++)
		if (tab->all[i]->end != END_OPEN)
			put_connection(&o, tab->all[i], tab->all[i]->last_ns);
}

void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns)
{
	if (!o->json) {
		fprintf(o->f, "\nSUMMARY: %zu connection(s) seen\n", tab->n);
		put_titles(o, &connection_record);
	}
	for (size_t i = 0; i < tab->n; i++) {
		const struct conn_record *r = tab->all[i];

		put_connection(o, r, r->end == END_OPEN ? now_ns : r->last_ns);
	}
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
