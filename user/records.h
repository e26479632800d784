/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kind of record tcpkawatch writes, as field tables (fields.h): the
 * one place that names each fact. doc/schema.json documents the same keys
 * and the tests check every record against it.
 */
#ifndef RECORDS_H
#define RECORDS_H
#include <stdbool.h>
#include "fields.h"
#include "tcpkawatch.h"

/* watch's events (out_row.rec: struct ka_event; .ctx: a long long, the
 * CLOCK_REALTIME - CLOCK_MONOTONIC offset); NULL for EV_CLOSE. */
const struct record_kind *event_record(int type);

/* One connection's record, for watch's summary and the stats file
 * (.rec: struct conn_record; .ctx: a __u64, the time it ended or now). */
extern const struct record_kind connection_record;

/* The end of watch's summary (.rec: struct summary_counts). */
struct summary_counts {
	__u64 connections;	/* seen in the run: with an event */
	__u64 not_shown;	/* of those, not in the summary */
};
extern const struct record_kind summary_record;

/* What the observer lost (.rec: struct lost_counts). */
struct lost_counts {
	__u64 ringbuf_lost;		/* records dropped: the ring buffer was full */
	__u64 untracked_connections;	/* not tracked: the connection table was full */
	__u64 hook_misses;		/* BPF program runs the kernel skipped */
};
extern const struct record_kind lost_record;

/* list's (and top's) socket (.rec: struct list_record). */
extern const struct record_kind socket_record;

/* kill's socket and what became of it (.rec: struct list_record; .ctx:
 * an int, 0: closed, else the errno of the failure). */
extern const struct record_kind kill_record;

/* A connection probing an unanswering peer: the keepalive timer is
 * pending with probes out (a zero-window probe is not one). */
bool is_probing(const struct list_record *r);

#endif
