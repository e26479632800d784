// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel.h"
#include "list.skel.h"
#include "owner.h"
#include "snapshot.h"

struct snapshot {
	struct list_bpf *skel;
	struct bpf_link *iter;
	struct bpf_link *owners_iter;
	int self_ns;
};

struct snapshot *snapshot_open(void)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->self_ns = open("/proc/self/ns/net", O_RDONLY);
	s->skel = list_bpf__open();
	if (!s->skel || s->self_ns < 0) {
		fprintf(stderr, "tcpkawatch: cannot open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	s->skel->rodata->hz_fallback = timer_list_hz();
	if (list_bpf__load(s->skel)) {
		fprintf(stderr, "tcpkawatch: the kernel refused the iter/tcp program (%s): it needs "
			"Linux 5.9 or later\n", strerror(errno));
		goto fail;
	}
	s->iter = bpf_program__attach_iter(s->skel->progs.ka_list, NULL);
	s->owners_iter = bpf_program__attach_iter(s->skel->progs.ka_owners, NULL);
	if (!s->iter || !s->owners_iter) {
		fprintf(stderr, "tcpkawatch: cannot create the TCP socket iterator: %s\n",
			strerror(errno));
		goto fail;
	}
	return s;
fail:
	snapshot_close(s);
	return NULL;
}

/* Read a whole iterator: records may be split across read() calls. */
static int read_records(int iter_fd, __u32 netns, snapshot_cb cb, void *ctx)
{
	static char buf[sizeof(struct list_record) * 256];
	size_t have = 0;
	ssize_t n;

	while ((n = read(iter_fd, buf + have, sizeof(buf) - have)) > 0) {
		size_t off = 0;

		have += n;
		for (; have - off >= sizeof(struct list_record); off += sizeof(struct list_record)) {
			struct list_record r;

			memcpy(&r, buf + off, sizeof(r));
			cb(ctx, &r, netns);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	return n < 0 ? -1 : 0;
}

/* An iterator walks the namespace its reader was in when it created it
 * (bpf_iter_tcp's seq_net_private): enter each, then come back. */
int snapshot_walk(struct snapshot *s, __u32 netns, snapshot_cb cb, void *ctx)
{
	enum { MAX_NETNS = 4096 };
	static char paths[MAX_NETNS][NETNS_PATH_LEN];
	size_t n = list_netns(paths, MAX_NETNS);
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		int ns = open(paths[i], O_RDONLY), it;
		struct stat st;

		if (ns < 0 || fstat(ns, &st) || (netns && st.st_ino != netns) ||
		    setns(ns, CLONE_NEWNET)) {
			if (ns >= 0)
				close(ns);
			continue;	/* gone meanwhile, or not asked for */
		}
		close(ns);
		it = bpf_iter_create(bpf_link__fd(s->iter));
		if (it < 0 || read_records(it, st.st_ino, cb, ctx)) {
			fprintf(stderr, "tcpkawatch: reading the sockets of %s: %s\n", paths[i],
				strerror(errno));
			err = -1;
		}
		if (it >= 0)
			close(it);
	}
	if (setns(s->self_ns, CLONE_NEWNET)) {
		fprintf(stderr, "tcpkawatch: cannot return to my network namespace: %s\n",
			strerror(errno));
		err = -1;
	}
	return err;
}

struct owner_table *snapshot_owners(struct snapshot *s)
{
	struct owner_table *t = owner_table_new("/proc");
	static struct owner_record buf[1024];
	int fd = bpf_iter_create(bpf_link__fd(s->owners_iter));
	size_t have = 0;
	ssize_t n;

	if (!t || fd < 0) {
		if (fd >= 0)
			close(fd);
		return t;
	}
	while ((n = read(fd, (char *)buf + have, sizeof(buf) - have)) > 0) {
		size_t i, whole;

		have += n;
		whole = have / sizeof(buf[0]);
		for (i = 0; i < whole; i++)
			owner_table_add(t, buf[i].ino, buf[i].pid, buf[i].comm);
		have -= whole * sizeof(buf[0]);
		memmove(buf, (char *)buf + whole * sizeof(buf[0]), have);
	}
	close(fd);
	owner_table_sort(t);
	return t;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	bpf_link__destroy(s->owners_iter);
	bpf_link__destroy(s->iter);
	list_bpf__destroy(s->skel);
	if (s->self_ns >= 0)
		close(s->self_ns);
	free(s);
}
