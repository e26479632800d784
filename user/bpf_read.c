// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_read.h"

unsigned long long percpu_counter_sum(int map_fd, unsigned int idx)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long vals[ncpus > 0 ? ncpus : 1], sum = 0;

	if (ncpus <= 0 || bpf_map_lookup_elem(map_fd, &idx, vals))
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

/* Hands each whole record of buf to each(); the bytes it used (a record
 * split by read() leaves its first part over). */
static size_t each_record(const char *buf, size_t len, size_t rec_size,
			  void (*each)(void *ctx, const void *rec), void *ctx)
{
	size_t off = 0;

	for (; len - off >= rec_size; off += rec_size)
		each(ctx, buf + off);
	return off;
}

int iter_read(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec), void *ctx)
{
	enum { BUF_LEN = 64 * 1024 };
	char *buf = malloc(BUF_LEN);
	int fd = buf ? bpf_iter_create(link_fd) : -1;
	size_t have = 0;
	ssize_t n = -1;

	if (fd < 0) {
		free(buf);
		return -1;
	}
	while ((n = read(fd, buf + have, BUF_LEN - have)) > 0) {
		size_t used;

		have += n;
		used = each ? each_record(buf, have, rec_size, each, ctx) : have;
		have -= used;
		memmove(buf, buf + used, have);
	}
	close(fd);
	free(buf);
	return n < 0 ? -1 : 0;
}

/*
 * iter_read_beside(): a reader thread read()s the iterator (the kernel's
 * walk, in its time) into one buffer while the caller's thread hands the
 * records of the other to each(). A buffer's first rec_size bytes take
 * the piece of a record the last one ended with.
 */
enum { BESIDE_BUFS = 2, BESIDE_READ_LEN = 64 * 1024 };

struct beside_buf {
	char *data;		/* rec_size + BESIDE_READ_LEN bytes */
	ssize_t len;		/* what read() returned: 0 at the end */
	int read_errno;		/* read()'s errno when len < 0 */
	bool full;		/* read, not yet handed on */
};

struct beside {
	int fd;
	size_t rec_size;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct beside_buf buf[BESIDE_BUFS];
};

static void *beside_reader(void *arg)
{
	struct beside *b = arg;

	for (int i = 0;; i = (i + 1) % BESIDE_BUFS) {
		struct beside_buf *buf = &b->buf[i];
		ssize_t n;

		pthread_mutex_lock(&b->lock);
		while (buf->full)
			pthread_cond_wait(&b->changed, &b->lock);
		pthread_mutex_unlock(&b->lock);
		n = read(b->fd, buf->data + b->rec_size, BESIDE_READ_LEN);
		pthread_mutex_lock(&b->lock);
		buf->len = n;
		buf->read_errno = n < 0 ? errno : 0;
		buf->full = true;
		pthread_cond_broadcast(&b->changed);
		pthread_mutex_unlock(&b->lock);
		if (n <= 0)
			return NULL;
	}
}

int iter_read_beside(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec),
		     void *ctx)
{
	struct beside b = {
		.rec_size = rec_size,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
	};
	size_t carry = 0;	/* bytes of a split record, before a buffer's data */
	bool have_bufs = true;
	pthread_t reader;
	int err = 0, i;

	for (i = 0; i < BESIDE_BUFS; i++) {
		b.buf[i].data = malloc(rec_size + BESIDE_READ_LEN);
		if (!b.buf[i].data)
			have_bufs = false;
	}
	b.fd = have_bufs ? bpf_iter_create(link_fd) : -1;
	if (b.fd < 0 || pthread_create(&reader, NULL, beside_reader, &b)) {
		err = b.fd < 0 ? errno : 0;
		if (b.fd >= 0)
			close(b.fd);
		for (i = 0; i < BESIDE_BUFS; i++)
			free(b.buf[i].data);
		errno = err;
		/* no thread: one after the other */
		return err ? -1 : iter_read(link_fd, rec_size, each, ctx);
	}
	for (i = 0;; i = (i + 1) % BESIDE_BUFS) {
		struct beside_buf *buf = &b.buf[i];
		char *start;
		size_t len;

		pthread_mutex_lock(&b.lock);
		while (!buf->full)
			pthread_cond_wait(&b.changed, &b.lock);
		pthread_mutex_unlock(&b.lock);
		if (buf->len <= 0) {
			err = buf->len < 0 ? buf->read_errno : 0;
			break;
		}
		start = buf->data + rec_size - carry;
		len = carry + buf->len;
		carry = len - each_record(start, len, rec_size, each, ctx);
		/* into the next buffer's front, which the reader leaves alone */
		memcpy(b.buf[(i + 1) % BESIDE_BUFS].data + rec_size - carry, start + len - carry,
		       carry);
		pthread_mutex_lock(&b.lock);
		buf->full = false;
		pthread_cond_broadcast(&b.changed);
		pthread_mutex_unlock(&b.lock);
	}
	pthread_join(reader, NULL);
	close(b.fd);
	for (i = 0; i < BESIDE_BUFS; i++)
		free(b.buf[i].data);
	errno = err;
	return err ? -1 : 0;
}

/* The map named "conns" with this shape among a program's maps, or -1 */
static int conns_map_of(int prog_fd, unsigned int value_size)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[16];

	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct bpf_map_info map = {};
		__u32 map_len = sizeof(map);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &map, &map_len) && !strcmp(map.name, "conns") &&
		    map.type == BPF_MAP_TYPE_HASH && map.key_size == sizeof(__u64) &&
		    map.value_size == value_size)
			return fd;
		close(fd);
	}
	return -1;
}

int observer_conns_fd(unsigned int value_size)
{
	__u32 id = 0;

	/* watch's timer entry program (ka_timer_entry in bpf/watch.bpf.c), a
	 * tracing program: the map is the one it uses, not any map that
	 * happens to share its name */
	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id), conns = -1;

		if (fd < 0)
			continue;	/* gone meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_PROG_TYPE_TRACING &&
		    !strcmp(info.name, "ka_timer_entry"))
			conns = conns_map_of(fd, value_size);
		close(fd);
		if (conns >= 0)
			return conns;
	}
	return -1;
}

struct bpf_link *iter_attach(const struct bpf_program *prog)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);

	if (!link)
		fprintf(stderr, "tcpkawatch: cannot create the %s iterator: %s\n",
			bpf_program__name(prog), strerror(errno));
	return link;
}
