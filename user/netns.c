// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "array.h"
#include "netns.h"

int for_each_netns(__u32 netns, int (*fn)(void *ctx, __u32 netns), void *ctx)
{
	const char *dirs[] = { "/proc", "/run/netns" };
	/* setns() moves only the calling thread: come back to this thread's
	 * namespace (/proc/self is the main thread's) */
	int self = open("/proc/thread-self/ns/net", O_RDONLY), walked = 0, stop = 0;
	ino_t *seen = NULL;
	size_t n = 0, cap = 0;

	if (self < 0) {
		fprintf(stderr, "tcpkawatch: cannot open my network namespace: %s\n", strerror(errno));
		return -1;
	}
	for (size_t d = 0; d < 2 && !stop; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		while (dir && !stop && (e = readdir(dir))) {
			char path[64];
			struct stat st;
			size_t i;
			int fd;

			if (e->d_name[0] == '.' || (!d && (e->d_name[0] < '0' || e->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s" : "%s/%s/ns/net", dirs[d], e->d_name);
			fd = open(path, O_RDONLY);
			if (fd < 0 || fstat(fd, &st) || (netns && st.st_ino != netns)) {
				if (fd >= 0)
					close(fd);
				continue;	/* gone meanwhile, or not asked for */
			}
			for (i = 0; i < n && seen[i] != st.st_ino; i++)
				;
			if (i == n && ARRAY_RESERVE(seen, cap, n, 64)) {
				fprintf(stderr, "tcpkawatch: out of memory\n");
				stop = -1;
			} else if (i == n) {	/* a namespace not walked yet */
				seen[n++] = st.st_ino;
				if (!setns(fd, CLONE_NEWNET)) {
					stop = fn(ctx, st.st_ino);
					walked++;
				}
			}
			close(fd);
		}
		if (dir)
			closedir(dir);
	}
	if (setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "tcpkawatch: cannot return to my network namespace: %s\n",
			strerror(errno));
		walked = -1;
	}
	close(self);
	free(seen);
	return stop < 0 ? -1 : walked;
}
