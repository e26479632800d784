/* SPDX-License-Identifier: GPL-2.0 */
/* Events and summaries as fixed-width columns or JSON lines. */
#ifndef OUTPUT_H
#define OUTPUT_H
#include <stdbool.h>
#include <stdio.h>
#include "aggregate.h"
#include "decode.h"
#include "text.h"
#include "tcpkawatch.h"

struct out_ctx {
	FILE *f;
	bool json;
	long long realtime_offset_ns;	/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int addr_width;			/* column width of "addr:port" */
};

void out_header(const struct out_ctx *o);
void out_event(const struct out_ctx *o, const struct ka_event *e);
void out_summary(const struct out_ctx *o, const struct conn_table *tab, __u64 now_ns);
/* Each finished connection's record, one JSON object a line. */
void out_stats_file(FILE *f, const struct conn_table *tab);
/* What was lost: records (ring buffer full), connections not tracked
 * (table full), hook runs the kernel skipped (BPF recursion guard).
 * Prints nothing when all are 0. */
void out_lost(const struct out_ctx *o, __u64 ringbuf_lost, __u64 conn_table_full,
	      __u64 hook_misses);
/* The fields every record starts with (text_field_*() in text.h):
 * netns, family, laddr, lport, raddr, rport, pid, comm, written at p
 * (CONN_FIELDS_LEN bytes at most); returns the new end. */
#define CONN_FIELDS_LEN (128 + 4 * ADDR_STR_LEN + 6 * TASK_COMM_LEN)
char *conn_fields(char *p, enum text_record f, __u32 netns, const struct conn_tuple *t,
		  __u32 pid, const char *comm);

#endif
