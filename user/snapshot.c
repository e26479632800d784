// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "array.h"
#include "bpf_log.h"
#include "bpf_read.h"
#include "clock.h"
#include "netns.h"
#include "kernel.h"
#include "list.skel.h"
#include "owner.h"
#include "snapshot.h"

struct snapshot {
	struct list_bpf *skel;
	struct bpf_link *iter;
	struct bpf_link *owners_iter;
};

struct snapshot *snapshot_open(bool with_inode, bool with_observer)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	int observer_fd = -1, err;

	if (!s)
		return NULL;
	s->skel = list_bpf__open();
	if (!s->skel) {
		fprintf(stderr, "tcpkawatch: cannot open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	s->skel->rodata->hz = kernel_hz();
	s->skel->rodata->with_inode = with_inode;
	/* the object holds the observer's table from here on; without it
	 * the records just lack the observer's counts */
	if (with_observer)
		observer_fd = observer_conns_fd(sizeof(struct conn_state));
	s->skel->rodata->with_observer =
		observer_fd >= 0 && !bpf_map__reuse_fd(s->skel->maps.observer_conns, observer_fd);
	if (observer_fd >= 0)
		close(observer_fd);
	libbpf_load_begin();
	err = list_bpf__load(s->skel);
	if (err) {
		report_load_error("the socket iterators", err, NULL);
		goto fail;
	}
	s->iter = iter_attach(s->skel->progs.ka_list);
	s->owners_iter = s->iter ? iter_attach(s->skel->progs.ka_owners) : NULL;
	if (!s->owners_iter)
		goto fail;
	return s;
fail:
	snapshot_close(s);
	return NULL;
}

struct walk {
	struct snapshot *s;
	snapshot_cb cb;
	void *ctx;
	__u32 netns;
};

static void walk_record(void *ctx, const void *rec)
{
	struct walk *w = ctx;
	struct list_record r;

	memcpy(&r, rec, sizeof(r));	/* the buffer is not aligned for it */
	w->cb(w->ctx, &r, w->netns);
}

static int walk_netns(void *ctx, __u32 netns)
{
	struct walk *w = ctx;

	w->netns = netns;
	if (!iter_read_beside(bpf_link__fd(w->s->iter), sizeof(struct list_record), walk_record, w))
		return 0;
	fprintf(stderr, "tcpkawatch: reading the sockets of network namespace %u: %s\n", netns,
		strerror(errno));
	return -1;
}

int snapshot_walk(struct snapshot *s, __u32 netns, snapshot_cb cb, void *ctx,
		  struct netns_skipped *skipped)
{
	struct walk w = { .s = s, .cb = cb, .ctx = ctx };

	return for_each_netns(netns, walk_netns, &w, skipped) < 0 ? -1 : 0;
}

static void add_owner(void *ctx, const void *rec)
{
	struct owner_record r;

	memcpy(&r, rec, sizeof(r));
	owner_table_add(ctx, r.sock, r.pid, r.comm);
}

struct owner_table *owners_read(struct bpf_link *owners_iter)
{
	struct owner_table *t = owner_table_new();

	if (!t)
		return NULL;
	/* a partial table still names most owners */
	iter_read(bpf_link__fd(owners_iter), sizeof(struct owner_record), add_owner, t);
	if (owner_table_index(t)) {
		owner_table_free(t);
		return NULL;
	}
	return t;
}

struct owner_table *snapshot_owners(struct snapshot *s)
{
	return owners_read(s->owners_iter);
}

/* snapshot_walk_owned(): the owner pass on a thread of its own. At most
 * this many records wait for it (7.5 MiB); the walk then waits instead. */
#define WAITING_MAX 65536

struct owned_walk {
	struct bpf_link *owners_iter;
	pthread_t thread;
	bool threaded;
	int pass_done;		/* *owners set by the pass: __atomic */
	struct owner_table **owners;
	bool owners_ready;	/* the pass joined: records go straight to cb */
	snapshot_cb cb;
	void *ctx;
	/* the records that came before the owners */
	struct waiting_record {
		struct list_record r;
		__u32 netns;
	} *waiting;
	size_t nwaiting, cap;
};

static void *owner_pass(void *arg)
{
	struct owned_walk *o = arg;

	*o->owners = owners_read(o->owners_iter);
	__atomic_store_n(&o->pass_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void owners_ready(struct owned_walk *o)
{
	if (o->threaded)
		pthread_join(o->thread, NULL);
	o->owners_ready = true;
	for (size_t i = 0; i < o->nwaiting; i++)
		o->cb(o->ctx, &o->waiting[i].r, o->waiting[i].netns);
	free(o->waiting);
	o->waiting = NULL;
	o->nwaiting = o->cap = 0;
}

static void owned_record(void *ctx, const struct list_record *r, __u32 netns)
{
	struct owned_walk *o = ctx;

	/* no more room to wait in: wait for the pass instead */
	if (!o->owners_ready && (__atomic_load_n(&o->pass_done, __ATOMIC_ACQUIRE) ||
				 o->nwaiting == WAITING_MAX ||
				 ARRAY_RESERVE(o->waiting, o->cap, o->nwaiting, 1024)))
		owners_ready(o);
	if (o->owners_ready)
		o->cb(o->ctx, r, netns);
	else
		o->waiting[o->nwaiting++] = (struct waiting_record){ *r, netns };
}

int snapshot_walk_owned(struct snapshot *s, __u32 netns, snapshot_cb cb, void *ctx,
			struct netns_skipped *skipped, struct owner_table **owners)
{
	struct owned_walk o = {
		.owners_iter = s->owners_iter, .owners = owners, .cb = cb, .ctx = ctx,
	};
	int err;

	o.threaded = !pthread_create(&o.thread, NULL, owner_pass, &o);
	if (!o.threaded)
		owner_pass(&o);
	err = snapshot_walk(s, netns, owned_record, &o, skipped);
	if (!o.owners_ready)
		owners_ready(&o);
	return err;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	bpf_link__destroy(s->owners_iter);
	bpf_link__destroy(s->iter);
	list_bpf__destroy(s->skel);
	free(s);
}
