// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "array.h"
#include "netns.h"

/* A set of inode numbers that grows. */
struct ino_set {
	ino_t *ino;
	size_t n, cap;
};

static bool ino_set_has(const struct ino_set *s, ino_t ino)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ino[i] == ino)
			return true;
	return false;
}

/* Adds ino: 1 if it was new, 0 if there already, -1 out of memory. */
static int ino_set_add(struct ino_set *s, ino_t ino)
{
	if (ino_set_has(s, ino))
		return 0;
	if (ARRAY_RESERVE(s->ino, s->cap, s->n, 64))
		return -1;
	s->ino[s->n++] = ino;
	return 1;
}

static void skip(struct netns_skipped *skipped, const char *path, int err)
{
	if (!skipped->count++) {
		snprintf(skipped->first, sizeof(skipped->first), "%.63s", path);
		skipped->first_errno = err;
	}
}

void netns_skipped_text(const struct netns_skipped *skipped, char *buf, size_t len)
{
	snprintf(buf, len, "could not open or enter %u network namespace%s (first %s: %s): "
		 "their sockets are left out", skipped->count, skipped->count == 1 ? "" : "s",
		 skipped->first, strerror(skipped->first_errno));
}

void netns_skipped_warn(const struct netns_skipped *skipped)
{
	char text[NETNS_SKIPPED_TEXT_LEN];

	if (!skipped->count)
		return;
	netns_skipped_text(skipped, text, sizeof(text));
	fprintf(stderr, "tcpkawatch: %s\n", text);
}

/* Which namespace /proc/PID/net shows, told without /proc/PID/ns/net: the
 * inode of its "dev" file is the namespace's own proc entry (proc_net_ns's
 * proc_create_net()), and /proc/PID/net needs no ptrace access
 * (get_proc_task_net()), where /proc/PID/ns/net does (proc_ns_get_link()). */
static ino_t proc_net_id(const char *pid_dir)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/net/dev", pid_dir);
	return stat(path, &st) ? 0 : st.st_ino;
}

struct walk_state {
	__u32 netns;
	int (*fn)(void *ctx, __u32 netns);
	void *ctx;
	ino_t here;			/* the namespace this thread is in */
	struct ino_set walked;		/* namespace inodes */
	struct ino_set reached_net;	/* proc_net_id()s of those walked or said skipped */
	/* namespaces of processes whose /proc/PID/ns/net is unreadable */
	struct unreadable {
		ino_t net_id;		/* proc_net_id() */
		char path[64];
		int err;
	} *unreadable;
	size_t nunreadable, unreadable_cap;
	struct netns_skipped *skipped;
	int count;
};

static int out_of_memory(void)
{
	fprintf(stderr, "tcpkawatch: out of memory\n");
	return -1;
}

/* Keep an unreadable /proc/PID/ns/net for the end of the walk. */
static int add_unreadable(struct walk_state *w, const char *path, const char *pid_dir, int err)
{
	ino_t id = proc_net_id(pid_dir);

	if (!id)
		return 0;	/* gone meanwhile */
	for (size_t i = 0; i < w->nunreadable; i++)
		if (w->unreadable[i].net_id == id)
			return 0;
	if (ARRAY_RESERVE(w->unreadable, w->unreadable_cap, w->nunreadable, 16))
		return out_of_memory();
	w->unreadable[w->nunreadable] = (struct unreadable){ .net_id = id, .err = err };
	snprintf(w->unreadable[w->nunreadable++].path, sizeof(w->unreadable->path), "%.63s", path);
	return 0;
}

/* Enter the namespace of path (a /proc/PID/ns/net or /run/netns/NAME) and
 * call fn there, once per namespace. fn's result, or -1 out of memory. */
static int walk_one(struct walk_state *w, const char *path, const char *pid_dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), added, stop = 0;
	struct stat st;

	if (fd < 0) {
		if (errno == ENOENT || errno == ESRCH)
			return 0;	/* gone meanwhile */
		if (!pid_dir) {
			skip(w->skipped, path, errno);
			return 0;
		}
		return add_unreadable(w, path, pid_dir, errno);
	}
	if (fstat(fd, &st) || (w->netns && st.st_ino != w->netns)) {
		close(fd);
		return 0;
	}
	added = ino_set_add(&w->walked, st.st_ino);
	if (added > 0) {
		/* where this thread is already: no setns() (CAP_SYS_ADMIN) */
		if (st.st_ino == w->here || !setns(fd, CLONE_NEWNET)) {
			w->here = st.st_ino;
			if (ino_set_add(&w->reached_net, proc_net_id("/proc/thread-self")) < 0)
				stop = out_of_memory();
			else
				stop = w->fn(w->ctx, st.st_ino);
			w->count++;
		} else {
			skip(w->skipped, path, errno);
			/* said once: not again for its unreadable /proc/PID/ns/net */
			if (pid_dir && ino_set_add(&w->reached_net, proc_net_id(pid_dir)) < 0)
				stop = out_of_memory();
		}
	}
	close(fd);
	return added < 0 ? out_of_memory() : stop;
}

int for_each_netns(__u32 netns, int (*fn)(void *ctx, __u32 netns), void *ctx,
		   struct netns_skipped *skipped)
{
	const char *dirs[] = { "/proc", "/run/netns" };
	/* setns() moves only the calling thread: come back to this thread's
	 * namespace (/proc/self is the main thread's) */
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), stop = 0;
	struct walk_state w = { .netns = netns, .fn = fn, .ctx = ctx, .skipped = skipped };
	struct stat self_st;

	*skipped = (struct netns_skipped){};
	if (self < 0 || fstat(self, &self_st)) {
		fprintf(stderr, "tcpkawatch: cannot open my network namespace: %s\n", strerror(errno));
		if (self >= 0)
			close(self);
		return -1;
	}
	w.here = self_st.st_ino;
	for (size_t d = 0; d < 2 && !stop; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		while (dir && !stop && (e = readdir(dir))) {
			char path[sizeof(e->d_name) + 16], pid_dir[32];

			if (e->d_name[0] == '.' || (!d && (e->d_name[0] < '0' || e->d_name[0] > '9')))
				continue;
			snprintf(pid_dir, sizeof(pid_dir), "/proc/%.16s", e->d_name);
			snprintf(path, sizeof(path), d ? "%s/%s" : "%s/%s/ns/net", dirs[d], e->d_name);
			stop = walk_one(&w, path, d ? NULL : pid_dir);
		}
		if (dir)
			closedir(dir);
	}
	/* an unreadable /proc/PID/ns/net is skipped only if no other way in
	 * reached its namespace (and, asked for one, if that one was not) */
	for (size_t i = 0; i < w.nunreadable && !(netns && w.count); i++)
		if (!ino_set_has(&w.reached_net, w.unreadable[i].net_id))
			skip(skipped, w.unreadable[i].path, w.unreadable[i].err);
	if (w.here != self_st.st_ino && setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "tcpkawatch: cannot return to my network namespace: %s\n",
			strerror(errno));
		stop = -1;
	}
	close(self);
	free(w.walked.ino);
	free(w.reached_net.ino);
	free(w.unreadable);
	return stop < 0 ? -1 : w.count;
}
