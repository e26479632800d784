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
/* Ended connections the summary keeps (conn_table's keep_max) */
#define SUMMARY_KEEP 10000
#define SUMMARY_KEEP_STR "10,000"
/* The summary: a line per connection the table has (with open_only, the
 * open ones: the ended went out already), then how many were seen and,
 * if any, how many are not shown. */
void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns,
		 bool open_only);
/* One ended connection's record as a JSON line, in one write(2): a
 * reader never sees half a line (a pipe: a line up to PIPE_BUF, 4096
 * bytes, which only a cgroup path of over about 3 KiB escaped passes);
 * 0, or -1 with errno. */
int out_stats_record(int fd, const struct conn_record *r);
/* What was lost; nothing when all are 0. */
void out_lost(const struct out_ctx *o, const struct lost_counts *l);
/* The same as a sentence after prefix, whatever the counts. */
void print_lost(FILE *f, const char *prefix, const struct lost_counts *l);

#endif
