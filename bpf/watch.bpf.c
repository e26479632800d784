// SPDX-License-Identifier: GPL-2.0
/*
 * watch: keepalive probes, answers and connection deaths.
 *
 * The kernel has no keepalive tracepoint, so probes are seen around the
 * keepalive timer callback (timer_expire_entry/exit, filtered to
 * tcp_keepalive_timer): icsk_probes_out one higher at exit means a probe
 * went out. Deaths are seen at the transition to TCP_CLOSE: every kernel
 * teardown goes through tcp_done_with_error(), which sets sk_err before
 * tcp_done() -> tcp_set_state(TCP_CLOSE), also for orphaned sockets,
 * while an application's own close or disconnect reaches TCP_CLOSE with
 * sk_err still 0.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define ETIMEDOUT	110
#define ECONNABORTED	103

char LICENSE[] SEC("license") = "GPL";

/* Filters, set by the loader before load; 0 means "any". */
const volatile __u32 filter_pid = 0;
const volatile __u16 filter_port = 0;
const volatile __u32 filter_netns = 0;
const volatile __u16 filter_family = 0;

/* Kernel ticks a second: from the kernel config, else measured by the
 * loader (hz_fallback). */
extern unsigned int CONFIG_HZ __kconfig __weak;
const volatile __u32 hz_fallback = 0;

/* The address of the timer callback, from kallsyms. */
extern const void tcp_keepalive_timer __ksym;

#define CONN_RESET_RX	1	/* tcp_receive_reset fired: a reset kills it */

/* Per-connection facts the kernel does not keep: who owns it, since when. */
struct conn_info {
	__u64 start_ns;
	__u32 pid;
	__u32 flags;
	char comm[TASK_COMM_LEN];
};

/* BPF_F_CLONE: a passive socket inherits its listener's record in
 * sk_clone_lock() -> bpf_sk_storage_clone(), and so its owner. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct conn_info);
} conn_store SEC(".maps");

/*
 * Sockets that sent keepalive probes, by socket address: how many are
 * unanswered. Written from the timer hook, where the socket is reached by
 * container_of() and so is no pointer the verifier lets sk_storage helpers
 * take. Entries go at TCP_CLOSE.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, __u32);
} probing SEC(".maps");

/* The socket whose keepalive timer runs on this CPU: timer callbacks do not
 * nest on one CPU (expire_timers() in kernel/time/timer.c). */
struct timer_slot {
	__u64 sk;
	__u8 probes_before;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct timer_slot);
} timer_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		(*c)++;
}

/*
 * Read-only look at a socket's conn_info without the sk_storage helper,
 * for the timer hook (see "probing"): the storage keeps a cache of
 * pointers to its maps' data (struct bpf_local_storage, cache_idx per map).
 */
static __always_inline bool conn_info_peek(struct sock *sk, struct conn_info *out)
{
	struct bpf_local_storage_map *smap = (void *)&conn_store;
	struct bpf_local_storage *st = BPF_CORE_READ(sk, sk_bpf_storage);
	struct bpf_local_storage_data *sdata;
	__u16 idx;

	if (!st)
		return false;
	idx = smap->cache_idx;
	if (idx >= 16)
		return false;
	sdata = BPF_CORE_READ(st, cache[idx]);
	if (!sdata || BPF_CORE_READ(sdata, smap) != smap)
		return false;
	return !bpf_probe_read_kernel(out, sizeof(*out),
				      (void *)sdata + bpf_core_field_offset(struct bpf_local_storage_data, data));
}

static __always_inline __u32 jiffies_to_ms(__u32 j)
{
	__u32 hz = CONFIG_HZ ? CONFIG_HZ : hz_fallback;

	return hz ? (__u64)j * 1000 / hz : 0;
}

static __always_inline void read_tuple(struct sock *sk, struct conn_tuple *t)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* Not skc_num: inet_put_port() zeroes it before the TCP_CLOSE
	 * tracepoint (inet_sk_state_store()); inet_sport stays. */
	t->sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (t->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)t->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* Fill what every event carries; false if the filters drop it. */
static __always_inline bool fill_event(struct ka_event *e, struct sock *sk,
				       const struct conn_info *info, __u8 type)
{
	struct inet_connection_sock *icsk = (void *)sk;
	struct tcp_sock *tp = (void *)sk;
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	struct socket *sock;
	__u32 j;

	read_tuple(sk, &e->t);
	if (filter_family && e->t.family != filter_family)
		return false;
	if (filter_port && e->t.sport != filter_port && e->t.dport != filter_port)
		return false;
	e->netns = BPF_CORE_READ(net, ns.inum);
	if (filter_netns && e->netns != filter_netns)
		return false;
	if (info) {
		e->pid = info->pid;
		e->start_ns = info->start_ns;
		__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
	}
	/* An unknown owner (socket older than us) is resolved and filtered
	 * by the loader. */
	if (filter_pid && e->pid && e->pid != filter_pid)
		return false;

	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	e->sk = (__u64)sk;
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	sock = BPF_CORE_READ(sk, sk_socket);
	if (sock)
		e->ino = BPF_CORE_READ(container_of(sock, struct socket_alloc, socket), vfs_inode.i_ino);

	/* keepalive_time_when() and friends: the socket's value, else the
	 * namespace's sysctl (include/net/tcp.h). */
	j = BPF_CORE_READ(tp, keepalive_time);
	e->idle_ms = jiffies_to_ms(j ? j : BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_time));
	j = BPF_CORE_READ(tp, keepalive_intvl);
	e->intvl_ms = jiffies_to_ms(j ? j : BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_intvl));
	e->probes_max = BPF_CORE_READ(tp, keepalive_probes);
	if (!e->probes_max)
		e->probes_max = BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_probes);
	e->user_timeout_ms = BPF_CORE_READ(icsk, icsk_user_timeout);
	/* rcv_tstamp is tcp_jiffies32 of the last segment received */
	e->silence_ms = jiffies_to_ms((__u32)bpf_jiffies64() - BPF_CORE_READ(tp, rcv_tstamp));
	return true;
}

static __always_inline void submit(struct ka_event *e)
{
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		count(CNT_RINGBUF_LOST);
}

static __always_inline struct sock *timer_sock(struct timer_list *timer)
{
	return (void *)timer - bpf_core_field_offset(struct sock, sk_timer);
}

/* The peer acked: tcp_ack() reset icsk_probes_out to 0 while we still count
 * unanswered probes. */
static __always_inline void check_answered(struct sock *sk, __u32 *unanswered, __u8 probes_out,
					   const struct conn_info *info)
{
	struct ka_event e = {};

	if (!*unanswered || probes_out)
		return;
	if (fill_event(&e, sk, info, EV_ANSWERED)) {
		e.probes = *unanswered;
		submit(&e);
	}
	*unanswered = 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(ka_timer_entry, struct timer_list *timer)
{
	struct conn_info info = {};
	struct timer_slot *slot;
	__u32 zero = 0, *unanswered;
	struct sock *sk;
	__u64 key;

	if (timer->function != (void *)&tcp_keepalive_timer)
		return 0;
	slot = bpf_map_lookup_elem(&timer_slots, &zero);
	if (!slot)
		return 0;
	sk = timer_sock(timer);
	key = (__u64)sk;
	slot->sk = key;
	slot->probes_before = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_probes_out);
	if (slot->probes_before)
		return 0;
	unanswered = bpf_map_lookup_elem(&probing, &key);
	if (unanswered && *unanswered) {
		conn_info_peek(sk, &info);
		check_answered(sk, unanswered, 0, &info);
	}
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(ka_timer_exit, struct timer_list *timer)
{
	struct conn_info info = {}, *infop = NULL;
	struct ka_event e = {};
	struct timer_slot *slot;
	struct sock *sk;
	__u32 zero = 0;
	__u8 probes_out;
	__u64 key;

	if (timer->function != (void *)&tcp_keepalive_timer)
		return 0;
	slot = bpf_map_lookup_elem(&timer_slots, &zero);
	sk = timer_sock(timer);
	key = (__u64)sk;
	if (!slot || slot->sk != key)
		return 0;
	slot->sk = 0;
	/* A socket killed in the callback may be freed by its final
	 * sock_put(): only a live socket can have sent a probe. */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE)
		return 0;
	probes_out = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_probes_out);
	if (probes_out != slot->probes_before + 1)
		return 0;

	if (bpf_map_update_elem(&probing, &key, &(__u32){ probes_out }, BPF_ANY))
		count(CNT_PROBE_TABLE_FULL);
	if (conn_info_peek(sk, &info))
		infop = &info;
	if (fill_event(&e, sk, infop, EV_PROBE)) {
		e.probes = probes_out;
		submit(&e);
	}
	return 0;
}

/* Why the kernel gave up on a socket; sk_err is already set. */
static __always_inline __u8 death_cause(struct sock *sk, int err, int oldstate,
					const struct conn_info *info)
{
	struct inet_connection_sock *icsk = (void *)sk;
	struct timer_slot *slot;
	__u32 zero = 0;
	bool user_timeout = BPF_CORE_READ(icsk, icsk_user_timeout) != 0;

	if (info && (info->flags & CONN_RESET_RX))
		return CAUSE_RESET;
	if (err == ECONNABORTED)
		return CAUSE_LOCAL_ABORT;
	/* tcp_write_err() passes sk_err_soft (an ICMP error) in place of
	 * ETIMEDOUT; in SYN_SENT, tcp_v4_err() kills with the ICMP error. */
	if (err != ETIMEDOUT)
		return CAUSE_UNREACHABLE;
	slot = bpf_map_lookup_elem(&timer_slots, &zero);
	if (slot && slot->sk == (__u64)sk)
		return user_timeout ? CAUSE_USER_TIMEOUT : CAUSE_KEEPALIVE;
	/* Otherwise tcp_write_timer_handler(), in the timer or deferred to
	 * tcp_release_cb(): it clears icsk_pending before the handler runs,
	 * and tcp_write_queue_purge() zeroes packets_out before tcp_done(),
	 * so retransmission shows as icsk_retransmits and window probing
	 * (tcp_probe_timer) as icsk_probes_out. */
	if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
		return CAUSE_SYN_TIMEOUT;
	if (user_timeout)
		return CAUSE_USER_TIMEOUT;
	if (!BPF_CORE_READ(icsk, icsk_retransmits) && BPF_CORE_READ(icsk, icsk_probes_out))
		return CAUSE_ZERO_WINDOW;
	return CAUSE_RETRANSMIT;
}

static __always_inline void conn_closed(struct sock *sk, int oldstate)
{
	struct conn_info *info = bpf_sk_storage_get(&conn_store, sk, 0, 0);
	__u64 key = (__u64)sk;
	__u32 *unanswered = bpf_map_lookup_elem(&probing, &key);
	__u8 probes_out = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_probes_out);
	struct ka_event e = {};
	int err = sk->sk_err;

	if (!err) {
		if (unanswered) {
			check_answered(sk, unanswered, probes_out, info);
			if (fill_event(&e, sk, info, EV_CLOSE)) {
				e.state = oldstate;
				submit(&e);
			}
			bpf_map_delete_elem(&probing, &key);
		}
		return;
	}
	if (fill_event(&e, sk, info, EV_DEATH)) {
		e.state = oldstate;
		e.err = err;
		e.cause = death_cause(sk, err, oldstate, info);
		e.probes = unanswered ? *unanswered : 0;
		submit(&e);
	}
	if (unanswered)
		bpf_map_delete_elem(&probing, &key);
}

static __always_inline void record_owner(struct sock *sk)
{
	struct conn_info *info = bpf_sk_storage_get(&conn_store, sk, 0,
						   BPF_SK_STORAGE_GET_F_CREATE);

	if (!info)
		return;
	info->start_ns = bpf_ktime_get_ns();
	info->pid = bpf_get_current_pid_tgid() >> 32;
	info->flags = 0;
	bpf_get_current_comm(info->comm, sizeof(info->comm));
}

static __always_inline void passive_established(struct sock *sk)
{
	/* Created in softirq: the owner is the listener's, cloned with its
	 * storage; without one (a listener older than us) it stays unknown. */
	struct conn_info *info = bpf_sk_storage_get(&conn_store, sk, 0,
						   BPF_SK_STORAGE_GET_F_CREATE);

	if (!info)
		return;
	info->start_ns = bpf_ktime_get_ns();
	info->flags = 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ka_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT:	/* in connect(): current is the owner */
	case TCP_LISTEN:	/* in listen() */
		record_owner(sk);
		break;
	case TCP_ESTABLISHED:
		if (oldstate == TCP_SYN_RECV)
			passive_established(sk);
		break;
	case TCP_CLOSE:
		conn_closed(sk, oldstate);
		break;
	}
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(ka_receive_reset, struct sock *sk)
{
	/* tcp_reset() fires this, then tcp_done_with_error(). */
	struct conn_info *info = bpf_sk_storage_get(&conn_store, sk, 0,
						   BPF_SK_STORAGE_GET_F_CREATE);

	if (info)
		info->flags |= CONN_RESET_RX;
	return 0;
}
