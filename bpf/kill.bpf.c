// SPDX-License-Identifier: GPL-2.0
/*
 * kill: destroy the TCP sockets the loader selected (from list's walk), in
 * the reader's network namespace, as `ss -K` does but without inet_diag:
 * bpf_sock_destroy() (Linux 6.5), which an iter/tcp program may call on
 * the socket it visits (the batching iterator holds its lock). The kernel
 * aborts the socket as tcp_abort() does: ECONNABORTED to its application,
 * a RST to the peer. The loader loads this object only where the kernel
 * has the kfunc; elsewhere it asks inet_diag (user/sock_destroy.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"
#include "ka_common.bpf.h"

#define ESTALE 116

char LICENSE[] SEC("license") = "GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* the loader sets it */
	__type(key, __u64);		/* socket address */
	__type(value, struct kill_slot);
} doomed SEC(".maps");

/* the same tuple as list's iterator read (its conn_tuple, pad included) */
static __always_inline bool same_tuple(const struct sock_common *skc, const struct conn_tuple *t)
{
	struct conn_tuple now = {};
	const __u64 *a = (const __u64 *)&now, *b = (const __u64 *)t;

	skc_tuple(skc, &now);
	for (unsigned int i = 0; i < sizeof(now) / sizeof(*a); i++)
		if (a[i] != b[i])
			return false;
	return true;
}

SEC("iter/tcp")
int ka_kill(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct kill_slot *slot;
	__u64 key;

	if (!skc)
		return 0;
	key = (__u64)skc;
	slot = bpf_map_lookup_elem(&doomed, &key);
	if (!slot || slot->done)
		return 0;
	slot->done = 1;
	/* a full TCP socket (not a TIME_WAIT or request sock reusing the
	 * address), a listener only if it was one */
	if (!bpf_skc_to_tcp_sock(skc) || (skc->skc_state == TCP_LISTEN) != slot->listener ||
	    !same_tuple(skc, &slot->t))
		slot->err = -ESTALE;
	else
		slot->err = bpf_sock_destroy(skc);
	return 0;
}
