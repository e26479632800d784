// SPDX-License-Identifier: GPL-2.0
/* A sockops program of somebody else's, for the enforce tests: it counts
 * the connections it sees established, so a test can tell it still runs
 * while tcpkawatch attaches to and detaches from the same cgroup. With
 * foreign_cb_mode set, it also changes the connection's
 * bpf_sock_ops_cb_flags, as any sockops program may: 1 sets the RTO
 * callback bit, 2 clears every bit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} foreign_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} foreign_cb_mode SEC(".maps");

SEC("sockops")
int foreign_sockops(struct bpf_sock_ops *skops)
{
	__u32 zero = 0, *mode;
	__u64 *n;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	n = bpf_map_lookup_elem(&foreign_seen, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	mode = bpf_map_lookup_elem(&foreign_cb_mode, &zero);
	if (mode && *mode == 1)
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_RTO_CB_FLAG);
	else if (mode && *mode == 2)
		bpf_sock_ops_cb_flags_set(skops, 0);
	return 1;
}
