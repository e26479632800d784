/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CGROUP_H
#define CGROUP_H
#include <stddef.h>

/* The mount point of the cgroup v2 hierarchy, from /proc/mounts: 0, or
 * -1 if none is mounted. */
int cgroup2_root(char *path, size_t len);

#endif
