// SPDX-License-Identifier: GPL-2.0
/* The bare iter/tcp walk list is measured against: 24 bytes a socket. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/tcp")
int bare_walk(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u64 rec[3];

	if (!skc)
		return 0;
	rec[0] = (__u64)skc->skc_num << 16 | skc->skc_dport;
	rec[1] = skc->skc_daddr;
	rec[2] = skc->skc_state;
	bpf_seq_write(ctx->meta->seq, rec, sizeof(rec));
	return 0;
}
