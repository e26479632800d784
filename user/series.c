// SPDX-License-Identifier: GPL-2.0
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "array.h"
#include "series.h"
#include "text.h"
#include "tree.h"

static const struct {
	int label;
	const char *name;
} label_names[] = {
	{ LABEL_POD_UID, "pod_uid" },
	{ LABEL_CONTAINER_ID, "container_id" },
	{ LABEL_CGROUP, "cgroup" },
	{ LABEL_NETNS, "netns" },
};

#define N_LABELS (sizeof(label_names) / sizeof(label_names[0]))

int series_labels_parse(const char *arg)
{
	int labels = 0;

	if (!strcmp(arg, "none"))
		return 0;
	while (*arg) {
		size_t len = strcspn(arg, ",");
		size_t i;

		for (i = 0; i < N_LABELS; i++)
			if (strlen(label_names[i].name) == len &&
			    !strncmp(arg, label_names[i].name, len))
				break;
		if (i == N_LABELS)
			return -1;
		labels |= label_names[i].label;
		arg += len;
		if (*arg == ',' && !*++arg)
			return -1;	/* a trailing comma */
	}
	return labels ? labels : -1;
}

/* A label value as the text format escapes it (\\, \" and \n), in UTF-8
 * (Prometheus refuses a whole scrape for one invalid byte). */
static char *label_value(char *p, const char *s)
{
	*p++ = '"';
	while (*s) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			*p++ = '\\';
			*p++ = *s == '\n' ? 'n' : *s;
			s++;
		} else {
			p = text_utf8_char(p, &s);
		}
	}
	*p++ = '"';
	return p;
}

/* labels' values, one per label_names[] entry */
static char *write_labels(char *p, int labels, const char *const values[N_LABELS])
{
	char *start = p;

	for (size_t i = 0; i < N_LABELS; i++) {
		if (!(labels & label_names[i].label))
			continue;
		if (p != start)
			*p++ = ',';
		p = label_value(stpcpy(stpcpy(p, label_names[i].name), "="), values[i]);
	}
	*p = '\0';
	return p;
}

char *series_labels(char *p, int labels, const struct workload *w, __u32 netns)
{
	char num[16];
	const char *const values[N_LABELS] = {
		w ? w->pod_uid : "", w ? w->container_id : "", w ? w->cgroup : "", num,
	};

	snprintf(num, sizeof(num), "%u", netns);
	return write_labels(p, labels, values);
}

static int by_labels(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->labels, ((const struct series *)b)->labels);
}

static struct series *series_new(const char *labels)
{
	struct series *s = calloc(1, sizeof(*s));

	if (s && !(s->labels = strdup(labels))) {
		free(s);
		return NULL;
	}
	return s;
}

static void series_free(void *p)
{
	struct series *s = p;

	if (!s)
		return;
	free(s->labels);
	free(s->counters);
	free(s);
}

void series_set_init(struct series_set *set, int labels, size_t max)
{
	*set = (struct series_set){ .labels = labels, .max = max };
}

void series_set_free(struct series_set *set)
{
	tdestroy(set->tree, series_free);
	series_free(set->other);
	set->tree = NULL;
	set->other = NULL;
	set->n = 0;
}

struct series *series_find(struct series_set *set, const char *labels)
{
	struct series key = { .labels = (char *)labels };
	void *node = tfind(&key, &set->tree, by_labels);

	return node ? *(struct series **)node : NULL;
}

/* "other": every chosen label "_other" */
static struct series *other_series(struct series_set *set)
{
	static const char *const others[N_LABELS] = { "_other", "_other", "_other", "_other" };

	if (!set->other) {
		char labels[SERIES_LABELS_LEN];

		write_labels(labels, set->labels, others);
		set->other = series_new(labels);
	}
	return set->other;
}

struct series *series_get(struct series_set *set, const char *labels)
{
	struct series *s = series_find(set, labels);
	void *node;

	if (s)
		return s;
	if (set->n >= set->max)
		return other_series(set);
	s = series_new(labels);
	if (!s)
		return NULL;
	node = tsearch(s, &set->tree, by_labels);
	if (!node) {
		series_free(s);
		return NULL;
	}
	set->n++;
	return s;
}

int series_count(struct series *s, __u8 type, __u8 cause, __s32 err)
{
	for (size_t i = 0; i < s->n; i++) {
		struct series_counter *c = &s->counters[i];

		if (c->type == type && c->cause == cause && c->err == err) {
			c->n++;
			return 0;
		}
	}
	if (ARRAY_RESERVE(s->counters, s->cap, s->n, 4))
		return -1;
	s->counters[s->n++] = (struct series_counter){ type, cause, err, 1 };
	return 0;
}

static __u64 last_seen(const struct series *s)
{
	return s->event_ns > s->live_ns ? s->event_ns : s->live_ns;
}

static bool seen_before(const void *elem, void *ctx)
{
	return last_seen(elem) < *(const __u64 *)ctx;
}

void series_forget(struct series_set *set, __u64 now_ns, __u64 after_ns)
{
	__u64 before_ns = now_ns > after_ns ? now_ns - after_ns : 0;

	set->n -= tree_prune(&set->tree, by_labels, seen_before, &before_ns, series_free);
	if (set->other && seen_before(set->other, &before_ns)) {
		series_free(set->other);
		set->other = NULL;
	}
}

struct each_walk {
	void (*fn)(void *ctx, struct series *s);
	void *ctx;
};

static void visit_in_order(const void *node, VISIT v, void *ctx)
{
	const struct each_walk *w = ctx;

	if (v == leaf || v == postorder)
		w->fn(w->ctx, *(struct series *const *)node);
}

void series_for_each(const struct series_set *set, void (*fn)(void *ctx, struct series *s),
		     void *ctx)
{
	struct each_walk w = { fn, ctx };

	twalk_r(set->tree, visit_in_order, &w);
	if (set->other)
		fn(ctx, set->other);
}
