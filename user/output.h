/* SPDX-License-Identifier: GPL-2.0 */
/* watch's events, summary and stats file, as columns or JSON lines
 * (the records of records.h). */
#ifndef OUTPUT_H
#define OUTPUT_H
#include <stdbool.h>
#include <stdio.h>
#include "aggregate.h"
#include "records.h"

struct out_ctx {
	FILE *f;
	bool json;
	long long realtime_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int endpoint_width;		/* column width of "addr:port" */
};

void out_header(const struct out_ctx *o);
void out_event(const struct out_ctx *o, const struct ka_event *e);
void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns);
/* Each finished connection's record, one JSON object a line. */
void out_stats_file(FILE *f, const struct conn_table *tab);
/* What was lost; nothing when all are 0. */
void out_lost(const struct out_ctx *o, const struct lost_counts *l);
/* The same as a sentence after prefix, whatever the counts. */
void print_lost(FILE *f, const char *prefix, const struct lost_counts *l);

#endif
