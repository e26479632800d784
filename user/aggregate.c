// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include "aggregate.h"
#include "array.h"

int conn_table_init(struct conn_table *tab, size_t nbuckets, size_t keep_max)
{
	memset(tab, 0, sizeof(*tab));
	tab->buckets = calloc(nbuckets, sizeof(*tab->buckets));
	if (!tab->buckets)
		return -1;
	tab->nbuckets = nbuckets;
	tab->keep_max = keep_max;
	return 0;
}

void conn_table_free(struct conn_table *tab)
{
	for (size_t b = 0; b < tab->nbuckets; b++) {
		struct conn_record *r = tab->buckets[b], *next;

		for (; r; r = next) {
			next = r->next;
			free(r);
		}
	}
	for (size_t i = 0; i < tab->n_ended; i++)
		free(tab->ended[i]);
	free(tab->ended);
	free(tab->buckets);
	memset(tab, 0, sizeof(*tab));
}

static size_t bucket_of(const struct conn_table *tab, __u64 sk, __u32 netns)
{
	__u64 h = (sk ^ ((__u64)netns << 32)) * 0x9e3779b97f4a7c15ULL;

	return (h >> 32) % tab->nbuckets;
}

struct conn_record *conn_table_find_open(struct conn_table *tab, __u64 sk, __u32 netns)
{
	struct conn_record *r = tab->buckets[bucket_of(tab, sk, netns)];

	while (r && (r->sk != sk || r->netns != netns))
		r = r->next;
	return r;
}

static struct conn_record *add_record(struct conn_table *tab, const struct ka_event *e)
{
	struct conn_record *r = calloc(1, sizeof(*r));
	size_t b;

	if (!r)
		return NULL;
	r->sk = e->sk;
	r->netns = e->netns;
	r->t = e->t;
	r->start_ns = e->start_ns;
	b = bucket_of(tab, e->sk, e->netns);
	r->next = tab->buckets[b];
	tab->buckets[b] = r;
	tab->open++;
	tab->seen++;
	return r;
}

static void unlink_open(struct conn_table *tab, struct conn_record *r)
{
	struct conn_record **p = &tab->buckets[bucket_of(tab, r->sk, r->netns)];

	while (*p && *p != r)
		p = &(*p)->next;
	if (*p) {
		*p = r->next;
		tab->open--;
	}
	r->next = NULL;
}

struct conn_record *conn_table_update(struct conn_table *tab, const struct ka_event *e)
{
	struct conn_record *r = conn_table_find_open(tab, e->sk, e->netns);

	if (!r)
		r = add_record(tab, e);
	if (!r)
		return NULL;
	if (e->pid && !r->pid) {
		r->pid = e->pid;
		memcpy(r->comm, e->comm, sizeof(r->comm));
	}
	if (e->start_ns && !r->start_ns)
		r->start_ns = e->start_ns;
	if (e->cgroup_id)
		r->cgroup_id = e->cgroup_id;
	r->last_ns = e->ts_ns;
	r->ka_source = e->ka_source;
	r->idle_ms = e->idle_ms;
	r->intvl_ms = e->intvl_ms;
	r->ka_cnt = e->probes_max;
	r->user_timeout_ms = e->user_timeout_ms;
	switch (e->type) {
	case EV_PROBE:
		r->probes_sent++;
		r->unanswered = e->probes;
		break;
	case EV_ANSWERED:
		r->answers++;
		r->unanswered = 0;
		break;
	case EV_DEATH:
	case EV_CLOSE:
		r->end = e->type == EV_DEATH ? END_DEATH : END_CLOSED;
		r->cause = e->cause;
		r->err = e->err;
		unlink_open(tab, r);	/* the socket address may be reused */
		break;
	}
	return r;
}

void conn_table_retire(struct conn_table *tab, struct conn_record *r)
{
	if (tab->n_ended < tab->keep_max &&
	    !ARRAY_RESERVE(tab->ended, tab->cap_ended, tab->n_ended, 64)) {
		tab->ended[tab->n_ended++] = r;
		return;
	}
	tab->not_kept++;
	free(r);
}

void conn_table_for_each(const struct conn_table *tab,
			 void (*fn)(void *ctx, const struct conn_record *r), void *ctx)
{
	for (size_t i = 0; i < tab->n_ended; i++)
		fn(ctx, tab->ended[i]);
	for (size_t b = 0; b < tab->nbuckets; b++)
		for (const struct conn_record *r = tab->buckets[b]; r; r = r->next)
			fn(ctx, r);
}
