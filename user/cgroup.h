/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CGROUP_H
#define CGROUP_H
#include <stddef.h>
#include <linux/types.h>

/* The mount point of the cgroup v2 hierarchy, from /proc/mounts: 0, or
 * -1 if none is mounted. */
int cgroup2_root(char *path, size_t len);

/* Calls fn for every cgroup of the cgroup v2 hierarchy: its id (the
 * directory's inode, which is what bpf_get_current_cgroup_id() and the
 * kernel's cgroup->kn->id say) and its path under the mount ("/" for the
 * root). 0, or -1 if none is mounted. */
int cgroup_walk(void (*fn)(void *ctx, __u64 id, const char *path), void *ctx);

#endif
