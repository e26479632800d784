// SPDX-License-Identifier: GPL-2.0
#include <fts.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "cgroup.h"

int cgroup2_root(char *path, size_t len)
{
	char dev[256], mnt[PATH_MAX], type[64];
	int found = -1;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(path, len, "%s", mnt);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

int cgroup_walk(void (*fn)(void *ctx, __u64 id, const char *path), void *ctx)
{
	char root[PATH_MAX];
	char *const roots[] = { root, NULL };
	size_t root_len;
	FTSENT *ent;
	FTS *fts;

	if (cgroup2_root(root, sizeof(root)))
		return -1;
	root_len = strlen(root);
	/* FTS_NOSTAT: only directories are stat()ed, for fts_ino (no
	 * fts_statp then), not a cgroup's dozens of interface files */
	fts = fts_open(roots, FTS_PHYSICAL | FTS_NOSTAT | FTS_XDEV | FTS_NOCHDIR, NULL);
	if (!fts)
		return -1;
	while ((ent = fts_read(fts))) {
		if (ent->fts_info != FTS_D)
			continue;
		/* a cgroup's id is its directory's inode (kernfs_node.id) */
		fn(ctx, ent->fts_ino, ent->fts_path[root_len] ? ent->fts_path + root_len : "/");
	}
	fts_close(fts);
	return 0;
}
