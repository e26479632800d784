/* SPDX-License-Identifier: GPL-2.0 */
/* Reading what BPF objects hold: per-CPU counters, iterators, a running
 * observer's connection map. */
#ifndef BPF_READ_H
#define BPF_READ_H
#include <stddef.h>

/* The sum over CPUs of one counter in a BPF_MAP_TYPE_PERCPU_ARRAY of __u64;
 * 0 if it cannot be read. */
unsigned long long percpu_counter_sum(int map_fd, unsigned int idx);

struct bpf_link;
struct bpf_program;
/* An iterator link of prog (an iter/ program); NULL with one line on
 * stderr */
struct bpf_link *iter_attach(const struct bpf_program *prog);

/* Create an iterator from a BPF iter link and read it to the end, calling
 * each(ctx, record) for every whole record of rec_size bytes (records may
 * be split across read() calls); each may be NULL when the program writes
 * nothing. 0, or -1 with errno. */
int iter_read(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec), void *ctx);

/* The same, the kernel's walk (the read() calls) on a thread of its own:
 * each() (not NULL; rec_size > 0) runs over one buffer while the kernel
 * fills the next. */
int iter_read_beside(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec),
		     void *ctx);

/* The "conns" map of a running observer (watch, export, top): the map of
 * that name and shape used by the observer's timer program, found among
 * the kernel's BPF programs (it lives exactly as long as its observer:
 * nothing to pin, nothing left behind); -1 if none runs. */
int observer_conns_fd(unsigned int value_size);

#endif
