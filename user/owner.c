// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "owner.h"

static bool holds_socket(const char *proc_root, const char *pid, const char *want)
{
	char path[PATH_MAX], link[64];
	struct dirent *fd;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/%s/fd", proc_root, pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (fd = readdir(dir))) {
		ssize_t n;

		if (fd->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd/%s", proc_root, pid, fd->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, want);
	}
	closedir(dir);
	return found;
}

bool owner_by_inode(const char *proc_root, __u64 ino, __u32 *pid, char comm[TASK_COMM_LEN])
{
	char want[48], path[PATH_MAX];
	struct dirent *p;
	bool found = false;
	DIR *dir;

	if (!ino)
		return false;
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
	dir = opendir(proc_root);
	if (!dir)
		return false;
	while (!found && (p = readdir(dir))) {
		FILE *f;

		if (!isdigit((unsigned char)p->d_name[0]) || !holds_socket(proc_root, p->d_name, want))
			continue;
		found = true;
		*pid = strtoul(p->d_name, NULL, 10);
		memset(comm, 0, TASK_COMM_LEN);
		snprintf(path, sizeof(path), "%s/%s/comm", proc_root, p->d_name);
		f = fopen(path, "r");
		if (f) {
			if (fgets(comm, TASK_COMM_LEN, f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
	}
	closedir(dir);
	return found;
}
