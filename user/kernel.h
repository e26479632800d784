/* SPDX-License-Identifier: GPL-2.0 */
/* What the running kernel offers, checked before anything is loaded. */
#ifndef KERNEL_H
#define KERNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* libbpf's messages: on stderr with verbose (-v), else kept quietly so
 * that a failed load can name its reason. */
void libbpf_messages(bool verbose);
/* Call before loading an object; after a failed load (err: its negative
 * errno), report_load_error() prints one line: what was refused and why,
 * in libbpf's and the verifier's words (the first failure's since
 * libbpf_load_begin()), then hint, if any. */
void libbpf_load_begin(void);
void report_load_error(const char *what, int err, const char *hint);

/* Each prints one line naming what is missing and returns -1, else 0. */
int check_root(void);
int check_btf(void);
/* Root, BTF, ring buffers and hash maps: what watch needs. */
int check_kernel_support(void);

/* The sum over CPUs of one counter in a BPF_MAP_TYPE_PERCPU_ARRAY of __u64;
 * 0 if it cannot be read. */
unsigned long long percpu_counter_sum(int map_fd, unsigned int idx);

/* Enter every network namespace in use, once each (those of processes and
 * those named in /run/netns; only netns, if not 0), call fn(ctx, inode)
 * inside it, and come back. fn returning non-zero stops the walk, negative
 * for an error. Returns the namespaces walked, or -1. iter/tcp needs this:
 * an iterator walks the namespace its reader was in when it created it
 * (bpf_iter_tcp's seq_net_private). */
int for_each_netns(__u32 netns, int (*fn)(void *ctx, __u32 netns), void *ctx);

/* Create an iterator from a BPF iter link and read it to the end, calling
 * each(ctx, record) for every whole record of rec_size bytes (records may
 * be split across read() calls); each may be NULL when the program writes
 * nothing. 0, or -1 with errno. */
int iter_read(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec), void *ctx);

/* The "conns" map of a running observer (watch, export, top), found among
 * the kernel's BPF maps by name and shape (it lives exactly as long as its
 * observer: nothing to pin, nothing left behind); -1 if none runs. */
int observer_conns_fd(unsigned int value_size);

/* The mount point of the cgroup v2 hierarchy, from /proc/mounts. */
int cgroup2_root(char *path, size_t len);

/* Kernel ticks a second (CONFIG_HZ), from the resolution of the coarse
 * clocks: no kernel config file needed; 0 if unknown. */
unsigned int kernel_hz(void);

/* HZ from one tick's length in ns (TICK_NSEC). */
unsigned int hz_from_tick_ns(long tick_ns);

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns. */
long long realtime_offset_ns(void);

#endif
