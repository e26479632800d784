// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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
		size_t off = 0;

		have += n;
		for (; each && have - off >= rec_size; off += rec_size)
			each(ctx, buf + off);
		have = each ? have - off : 0;
		memmove(buf, buf + off, have);
	}
	close(fd);
	free(buf);
	return n < 0 ? -1 : 0;
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
