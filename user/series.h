/* SPDX-License-Identifier: GPL-2.0 */
/*
 * export's per-workload series: the label sets --labels makes of each
 * socket's workload, each with its counters (the observer's events) and
 * gauges (the last scrape's sockets), at most a set number of them, and
 * the sets of workloads that are gone forgotten.
 */
#ifndef SERIES_H
#define SERIES_H
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "workload.h"

/* The identity labels --labels can choose, in the order they are written */
enum series_label {
	LABEL_POD_UID = 1,
	LABEL_CONTAINER_ID = 2,
	LABEL_CGROUP = 4,
	LABEL_NETNS = 8,
};

/* What "pod_uid,container_id" (a comma list of the names above, or
 * "none") chooses; -1 for anything else. */
int series_labels_parse(const char *arg);

/* The label text of a socket's series, 'pod_uid="...",container_id="..."'
 * (values escaped as the text format wants; "" when unknown), at p:
 * returns its end. At most SERIES_LABELS_LEN bytes, '\0' included. */
#define SERIES_LABELS_LEN (4 * WORKLOAD_CGROUP_MAX)
char *series_labels(char *p, int labels, const struct workload *w, __u32 netns);

struct series_counter {
	__u8 type;	/* EV_PROBE, EV_ANSWERED, EV_DEATH */
	__u8 cause;
	__s32 err;
	__u64 n;
};

struct series {
	char *labels;		/* series_labels() */
	__u64 event_ns;		/* the last event counted */
	__u64 live_ns;		/* the last scrape that found a socket of it */
	struct series_counter *counters;
	size_t n, cap;
	__u64 est_ka, est_no_ka, probing;	/* gauges, of one scrape */
};

struct series_set {
	void *tree;		/* of struct series, by labels (tsearch) */
	size_t n, max;		/* at most max, then "other" */
	struct series *other;	/* every label "_other": the workloads past max */
	int labels;		/* what "other" is written with */
};

void series_set_init(struct series_set *set, int labels, size_t max);
void series_set_free(struct series_set *set);
/* The series of labels, new at zero if need be; once set->max others
 * are held, "other". NULL only when out of memory. */
struct series *series_get(struct series_set *set, const char *labels);
/* The series of labels if it exists, else NULL. */
struct series *series_find(struct series_set *set, const char *labels);
/* One event; -1 when out of memory (not counted). */
int series_count(struct series *s, __u8 type, __u8 cause, __s32 err);
/* Drop the series with neither an event nor a socket for after_ns. */
void series_forget(struct series_set *set, __u64 now_ns, __u64 after_ns);
/* fn for every series, by labels, then "other" if it was used. */
void series_for_each(const struct series_set *set, void (*fn)(void *ctx, struct series *s),
		     void *ctx);

#endif
