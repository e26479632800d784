// SPDX-License-Identifier: GPL-2.0
/*
 * enforce: turn TCP keepalive on for connections whose application never
 * asked for it. A sockops program on a cgroup v2 sees every TCP connection
 * of the processes below it reach ESTABLISHED (tcp_init_transfer() calls
 * BPF_SOCK_OPS_{ACTIVE,PASSIVE}_ESTABLISHED_CB), in every network
 * namespace, and sets the options with bpf_setsockopt() as the
 * application would with setsockopt(). It marks those sockets (struct
 * ka_mark in sk_storage) and a cgroup/setsockopt program on the same
 * cgroup drops the mark when the application sets keepalive itself, so
 * that readers tell whose values are in force.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"
#include "ka_common.bpf.h"
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

/* The sockets whose keepalive values are enforce's: struct ka_mark. Not
 * BPF_F_CLONE: a listener's mark would not be its children's. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ka_mark);
} enforce_marks SEC(".maps");

#define count(idx) count_in(&enforce_counters, idx)

/* sk: the sockops context's socket, or the socket itself in iter/tcp */
static __always_inline void mark(void *sk)
{
	struct ka_mark m = { .magic = KA_MARK_MAGIC };

	if (!bpf_sk_storage_get(&enforce_marks, sk, &m, BPF_SK_STORAGE_GET_F_CREATE))
		count(ENF_UNMARKED);
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

/* ctx: the sockops context, or the socket itself in iter/tcp */
static __always_inline int set_int(void *ctx, int level, int opt, int val)
{
	return bpf_setsockopt(ctx, level, opt, &val, sizeof(val));
}

static __always_inline bool ports_wanted(const struct enforce_policy *p, __u16 lport, __u16 rport)
{
	if (p->nports && !port_in(p->ports, p->nports, lport, rport))
		return false;
	return !(p->nexclude && port_in(p->exclude, p->nexclude, lport, rport));
}

/* Idle, interval and count first: with SO_KEEPALIVE last, tcp_set_keepalive()
 * arms the timer once, with the new idle. */
static __always_inline int apply_policy(void *ctx, const struct enforce_policy *p)
{
	return set_int(ctx, SOL_TCP, TCP_KEEPIDLE, p->idle_s) ||
	       set_int(ctx, SOL_TCP, TCP_KEEPINTVL, p->intvl_s) ||
	       set_int(ctx, SOL_TCP, TCP_KEEPCNT, p->cnt) ||
	       (p->user_timeout_ms && set_int(ctx, SOL_TCP, TCP_USER_TIMEOUT, p->user_timeout_ms)) ||
	       set_int(ctx, SOL_SOCKET, SO_KEEPALIVE, 1);
}

/* The policy on one connection (ctx: what bpf_setsockopt() takes there;
 * sk: its socket): in fill mode the application's own keepalive is kept;
 * else set and marked. Counted in kept or set. */
static __always_inline void enforce_one(void *ctx, void *sk, bool app_keepalive,
					const struct enforce_policy *p, __u32 kept, __u32 set)
{
	if (!p->override && app_keepalive) {
		count(kept);
		return;
	}
	if (apply_policy(ctx, p)) {
		count(ENF_FAILED);
		return;
	}
	mark(sk);
	count(set);
}

SEC("sockops")
int ka_enforce(struct bpf_sock_ops *skops)
{
	struct enforce_policy *p;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u16 lport, rport;
	__u32 zero = 0;

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
	if (!ports_wanted(p, lport, rport))
		return 1;
	/* An accepted socket inherits SO_KEEPALIVE and the TCP_KEEP* values
	 * of its listener (sk_clone_lock()): those are the application's.
	 * The flag is read from the socket: bpf_getsockopt() takes
	 * SO_KEEPALIVE only from 6.0 (sol_socket_sockopt()). */
	sk = skops->sk;
	if (!sk)
		return 1;
	tp = bpf_skc_to_tcp_sock(sk);
	enforce_one(skops, sk, tp && keepalive_on(tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags),
		    p, ENF_KEPT_APP, ENF_SET);
	return 1;
}

/*
 * The application's own setsockopt() of a keepalive option: its values
 * are in force from now on, whatever enforce set before. Only system
 * calls come here (__sys_setsockopt() runs the cgroup hook), not
 * enforce's bpf_setsockopt(). It runs before the kernel applies the
 * option, and changes nothing: optlen 0 makes
 * __cgroup_bpf_run_filter_setsockopt() use the application's own buffer,
 * also one longer than a page, which the program sees only in part.
 */
SEC("cgroup/setsockopt")
int ka_app_sockopt(struct bpf_sockopt *ctx)
{
	int opt = ctx->optname;
	bool ka = ctx->level == SOL_SOCKET ? opt == SO_KEEPALIVE :
		  ctx->level == SOL_TCP && (opt == TCP_KEEPIDLE || opt == TCP_KEEPINTVL ||
					    opt == TCP_KEEPCNT);

	ctx->optlen = 0;
	if (ka && ctx->sk && !bpf_sk_storage_delete(&enforce_marks, ctx->sk))
		count(ENF_APP_TOOK_OVER);
	return 1;
}

/* Kernels before 6.0 keep the ancestors' ids, not pointers to them
 * (cgroup->ancestor_ids[], replaced by ->ancestors[]). */
struct cgroup___ids {
	__u64 ancestor_ids[0];
} __attribute__((preserve_access_index));

/* Is the socket's cgroup the policy's or below it? */
static __always_inline bool in_cgroup(struct sock *sk, const struct enforce_policy *p)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup), *anc = NULL;
	__u32 level = p->cgroup_level;
	__u64 id = 0;

	if (!level)
		return true;
	if (!cg || BPF_CORE_READ(cg, level) < (int)level || level > 255)
		return false;
	if (bpf_core_field_exists(struct cgroup___ids, ancestor_ids)) {
		bpf_core_read(&id, sizeof(id), &((struct cgroup___ids *)cg)->ancestor_ids[level]);
	} else {
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[level]);
		id = anc ? BPF_CORE_READ(anc, kn, id) : 0;
	}
	return id && id == p->cgroup_id;
}

/*
 * --existing: the same policy, once, on connections already established.
 * Runs over the TCP sockets of the network namespace the reader was in
 * when it created the iterator; bpf_iter_tcp_seq_show() holds the socket
 * lock around this program, as bpf_setsockopt() needs.
 */
SEC("iter/tcp")
int ka_enforce_existing(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct enforce_policy *p;
	struct tcp_sock *tp;
	struct sock *sk;
	__u32 zero = 0;

	if (!skc || skc->skc_state != TCP_ESTABLISHED)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	p = bpf_map_lookup_elem(&policy, &zero);
	if (!tp || !p || !p->cnt)
		return 0;
	sk = (struct sock *)tp;
	if (!ports_wanted(p, skc->skc_num, bpf_ntohs(skc->skc_dport)) || !in_cgroup(sk, p))
		return 0;
	enforce_one(sk, sk, keepalive_on(sk->__sk_common.skc_flags), p, ENF_EXISTING_KEPT_APP,
		    ENF_EXISTING_SET);
	return 0;
}
