// SPDX-License-Identifier: GPL-2.0
/* The hook floor the churn benchmark reads tcpkawatch against: a program
 * that returns at once on each hook watch.bpf.c attaches, as many times
 * (inet_sock_set_state and tcp_receive_reset twice: the *_nested stand-ins),
 * in the same order, named as its programs are with f_ for ka_: what they
 * cost is the kernel's dispatch alone. Held attached by attach_all. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/timer_expire_entry")
int f_timer_entry(void *ctx)
{
	return 0;
}

SEC("tp_btf/timer_start")
int f_timer_start(void *ctx)
{
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int f_timer_exit(void *ctx)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int f_set_state(void *ctx)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int f_state_nested(void *ctx)
{
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int f_receive_reset(void *ctx)
{
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int f_reset_nested(void *ctx)
{
	return 0;
}
