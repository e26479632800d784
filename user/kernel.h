/* SPDX-License-Identifier: GPL-2.0 */
/* What the running kernel offers, checked before anything is loaded. */
#ifndef KERNEL_H
#define KERNEL_H
#include <stddef.h>

/* Each prints one line naming what is missing and returns -1, else 0. */
int check_root(void);
int check_btf(void);
/* Root, BTF, ring buffers and hash maps: what watch needs. */
int check_kernel_support(void);

/* The sum over CPUs of one counter in a BPF_MAP_TYPE_PERCPU_ARRAY of __u64;
 * 0 if it cannot be read. */
unsigned long long percpu_counter_sum(int map_fd, unsigned int idx);

#define NETNS_PATH_LEN 64
/* Every network namespace in use, once each: those of processes
 * (/proc/PID/ns/net) and those named in /run/netns. Fills paths[] with a
 * path that opens each; returns how many. */
size_t list_netns(char paths[][NETNS_PATH_LEN], size_t max);

/* The "conns" map of a running observer (watch, export, top), found among
 * the kernel's BPF maps by name and shape (it lives exactly as long as its
 * observer: nothing to pin, nothing left behind); -1 if none runs. */
int observer_conns_fd(unsigned int value_size);

/* The mount point of the cgroup v2 hierarchy, from /proc/mounts. */
int cgroup2_root(char *path, size_t len);

/* Kernel ticks a second, derived from /proc/timer_list; 0 if unknown.
 * The BPF side prefers CONFIG_HZ from the kernel config. */
unsigned int timer_list_hz(void);

/* HZ from one /proc/timer_list text: "now at N nsecs" and "jiffies: J",
 * jiffies having started at INITIAL_JIFFIES (2^32 - 300 HZ on 64 bit). */
unsigned int hz_from_timer_list(const char *text);

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, in ns. */
long long realtime_offset_ns(void);

#endif
