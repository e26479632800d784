// SPDX-License-Identifier: GPL-2.0
/*
 * enforce: turn TCP keepalive on for connections whose application never
 * asked for it. A sockops program on a cgroup v2 sees every TCP connection
 * of the processes below it reach ESTABLISHED (tcp_init_transfer() calls
 * BPF_SOCK_OPS_{ACTIVE,PASSIVE}_ESTABLISHED_CB), in every network
 * namespace, and sets the options with bpf_setsockopt() as the
 * application would with setsockopt().
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"

#define AF_INET		2
#define AF_INET6	10
#define SOL_SOCKET	1
#define SO_KEEPALIVE	9
#define SOL_TCP		6
#define TCP_KEEPIDLE	4
#define TCP_KEEPINTVL	5
#define TCP_KEEPCNT	6
#define TCP_USER_TIMEOUT 18

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct enforce_policy);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ENF_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} enforce_counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&enforce_counters, &idx);

	if (c)
		(*c)++;
}

static __always_inline bool port_in(const __u16 *list, __u8 n, __u16 lport, __u16 rport)
{
	for (int i = 0; i < ENFORCE_MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (list[i] == lport || list[i] == rport)
			return true;
	}
	return false;
}

static __always_inline int set_int(struct bpf_sock_ops *skops, int level, int opt, int val)
{
	return bpf_setsockopt(skops, level, opt, &val, sizeof(val));
}

SEC("sockops")
int ka_enforce(struct bpf_sock_ops *skops)
{
	struct enforce_policy *p;
	__u16 lport, rport;
	__u32 zero = 0;
	int on = 0;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	p = bpf_map_lookup_elem(&policy, &zero);
	if (!p || !p->cnt)
		return 1;
	/* local_port is in host byte order, remote_port in network order */
	lport = skops->local_port;
	rport = bpf_ntohl(skops->remote_port);
	if (p->nports && !port_in(p->ports, p->nports, lport, rport))
		return 1;
	if (p->nexclude && port_in(p->exclude, p->nexclude, lport, rport))
		return 1;
	/* An accepted socket inherits SO_KEEPALIVE and the TCP_KEEP* values
	 * of its listener (sk_clone_lock()): those are the application's. */
	if (!p->override && !bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) && on) {
		count(ENF_KEPT_APP);
		return 1;
	}
	if (set_int(skops, SOL_TCP, TCP_KEEPIDLE, p->idle_s) ||
	    set_int(skops, SOL_TCP, TCP_KEEPINTVL, p->intvl_s) ||
	    set_int(skops, SOL_TCP, TCP_KEEPCNT, p->cnt) ||
	    (p->user_timeout_ms &&
	     set_int(skops, SOL_TCP, TCP_USER_TIMEOUT, p->user_timeout_ms)) ||
	    set_int(skops, SOL_SOCKET, SO_KEEPALIVE, 1)) {
		count(ENF_FAILED);
		return 1;
	}
	count(ENF_SET);
	return 1;
}
