/* SPDX-License-Identifier: GPL-2.0 */
/* Per-connection records built from the events of one run. */
#ifndef AGGREGATE_H
#define AGGREGATE_H
#include <stddef.h>
#include <linux/types.h>
#include "tcpkawatch.h"

enum conn_end { END_OPEN, END_CLOSED, END_DEATH };

struct conn_record {
	__u64 sk;		/* with netns: identity while it lives */
	__u32 netns;
	__u32 pid;
	char comm[TASK_COMM_LEN];
	__u64 cgroup_id;	/* the socket's cgroup v2, 0 if unknown */
	struct conn_tuple t;
	__u64 start_ns;		/* 0: opened before we started */
	__u64 last_ns;		/* time of the last event */
	__u32 probes_sent;
	__u32 answers;		/* times the peer answered probes */
	__u32 unanswered;	/* probes out now */
	__u32 idle_ms;		/* effective keepalive settings, as of the */
	__u32 intvl_ms;		/* last event */
	__u32 ka_cnt;
	__u32 user_timeout_ms;
	enum conn_end end;
	__u8 ka_source;		/* enum ka_source, as of the last event */
	__u8 cause;		/* enum death_cause, for END_DEATH */
	__s32 err;
	struct conn_record *next;	/* hash chain of open records */
};

/*
 * The records of one run. Open connections (those with an event so far)
 * are in a hash; a record leaves it when its connection ends. What ended
 * is kept for the end-of-run summary up to keep_max records, oldest
 * first, and freed past that (counted): memory follows the connections
 * open now, not how many came and went.
 */
struct conn_table {
	struct conn_record **buckets;	/* open connections by (sk, netns) */
	size_t nbuckets;
	size_t open;
	struct conn_record **ended;	/* kept for the summary */
	size_t n_ended, cap_ended, keep_max;
	__u64 seen;			/* connections with a record, ever */
	__u64 not_kept;			/* ended ones freed without a place */
};

/* keep_max: ended records kept for the summary (0: none). */
int conn_table_init(struct conn_table *tab, size_t nbuckets, size_t keep_max);
void conn_table_free(struct conn_table *tab);
/* The record of a connection still open, or NULL. */
struct conn_record *conn_table_find_open(struct conn_table *tab, __u64 sk, __u32 netns);
/* Account one event; returns its record, or NULL when out of memory. A
 * record whose connection ended (r->end) is out of the hash: report it,
 * then hand it to conn_table_retire(). */
struct conn_record *conn_table_update(struct conn_table *tab, const struct ka_event *e);
/* Keep an ended record for the summary if there is room, else free it. */
void conn_table_retire(struct conn_table *tab, struct conn_record *r);
/* Calls fn for every kept ended record, oldest first, then every open one. */
void conn_table_for_each(const struct conn_table *tab,
			 void (*fn)(void *ctx, const struct conn_record *r), void *ctx);

#endif
