// SPDX-License-Identifier: GPL-2.0
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
