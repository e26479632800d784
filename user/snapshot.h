/* SPDX-License-Identifier: GPL-2.0 */
/* Every TCP socket of every network namespace, from iter/tcp. */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H
#include <stdbool.h>
#include <linux/types.h>
#include "netns.h"
#include "tcpkawatch.h"

struct snapshot;
struct bpf_link;
typedef void (*snapshot_cb)(void *ctx, const struct list_record *r, __u32 netns);

/* Load and attach the iterator; NULL with one line on stderr on failure.
 * with_inode: fill list_record.ino (a cache miss a socket). with_observer:
 * a running observer's counts (observer_conns_fd()) in list_record.seen
 * and what follows it, if one runs. */
struct snapshot *snapshot_open(bool with_inode, bool with_observer);
/* Calls cb for every socket of every namespace (only netns, if not 0);
 * the namespaces it could not enter are in *skipped (netns.h).
 * 0, or -1 with one line on stderr. */
int snapshot_walk(struct snapshot *s, __u32 netns, snapshot_cb cb, void *ctx,
		  struct netns_skipped *skipped);
/* Which process holds which socket, from the kernel in one pass (for
 * sockets of all namespaces; owner_table_free() it), keyed by struct
 * socket address: list_record.sock, ka_event.sock. */
struct owner_table *snapshot_owners(struct snapshot *s);
/* snapshot_walk(), the owner pass beside it on a thread of its own (two
 * iterators on two CPUs, in the time of the longer): cb is called only
 * once *owners is set (snapshot_owners()'s table, NULL if it could not be
 * made; the caller's to free); records that come before wait in memory. */
int snapshot_walk_owned(struct snapshot *s, __u32 netns, snapshot_cb cb, void *ctx,
			struct netns_skipped *skipped, struct owner_table **owners);
/* The same from any ka_owners iterator (bpf/ka_owners.bpf.h): watch's. */
struct owner_table *owners_read(struct bpf_link *owners_iter);
void snapshot_close(struct snapshot *s);

#endif
