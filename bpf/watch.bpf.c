// SPDX-License-Identifier: GPL-2.0
/*
 * watch: keepalive probes, answers and connection deaths.
 *
 * The kernel has no keepalive tracepoint, so probes are seen around the
 * keepalive timer callback (timer_expire_entry, filtered to
 * tcp_keepalive_timer, and timer_start when the callback re-arms the timer,
 * still under the socket's lock): icsk_probes_out one higher means a probe
 * went out (see ka_timer_start). Deaths are seen at the transition to
 * TCP_CLOSE: every kernel teardown goes through tcp_done_with_error(),
 * which sets sk_err before
 * tcp_done() -> tcp_set_state(TCP_CLOSE), also for orphaned sockets,
 * while an application's own close or disconnect reaches TCP_CLOSE with
 * sk_err still 0. The owner of a socket older than the observer is the
 * loader's to find, with ka_owners (ka_owners.bpf.h), loaded with the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"
#include "ka_common.bpf.h"
#include "ka_owners.bpf.h"

#define IPPROTO_TCP	6
#define ETIMEDOUT	110
#define ECONNABORTED	103

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 hz = 0;	/* see ka_common.bpf.h */

/* Filters, set by the loader before load; 0 means "any". */
const volatile __u32 filter_pid = 0;
const volatile __u16 filter_port = 0;
const volatile __u32 filter_netns = 0;
const volatile __u16 filter_family = 0;

/* The address of the timer callback, from kallsyms. */
extern const void tcp_keepalive_timer __ksym;

#define CONN_RESET_RX	1	/* tcp_receive_reset fired: a reset kills it */
#define CONN_REPORTED	2	/* probes were reported: report its close too */

/*
 * Per-connection facts the kernel does not keep (who owns it, since when,
 * unanswered probes), by socket address, from connect()/accept to
 * TCP_CLOSE. A hash, not sk_storage: the timer hooks reach the socket by
 * container_of(), a pointer the verifier lets no sk_storage helper take,
 * and creating sk_storage for every connection cost 3% of loopback churn
 * against under 1% for this (README, "Speed").
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);	/* the loader sets it: --max-connections */
	__type(key, __u64);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* Owners of listening sockets, for the connections they accept, by the
 * address (zeros: any) and port they listen on. Several sockets can
 * listen on one (SO_REUSEPORT): the owner of the latest is kept, and the
 * record goes with the last of them. */
struct listener_key {
	__u32 netns;
	__u16 port;
	__u16 family;
	__u8 addr[16];
};

struct listen_owner {
	struct conn_state owner;
	__u32 sockets;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, struct listener_key);
	__type(value, struct listen_owner);
} listeners SEC(".maps");

/* The listening sockets counted in "listeners": one opened before we
 * started must not count down another's record when it closes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} counted_listeners SEC(".maps");

/* The socket whose keepalive timer runs on this CPU: timer callbacks do not
 * nest on one CPU (expire_timers() in kernel/time/timer.c). */
struct timer_slot {
	__u64 sk;
	__u8 probes_before;
};


struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);	/* the loader sets it: --ringbuf-size */
} events SEC(".maps");

#define count(idx) count_in(&counters, idx)

/*
 * Runs the kernel would skip. __bpf_trace_run() (kernel/trace/bpf_trace.c)
 * does not run a program already running on its CPU, and counts a
 * recursion miss instead: when a softirq interrupts ka_set_state in
 * process context (connect(), close()) and changes another socket's
 * state, ka_set_state never sees that change (tcp_receive_reset likewise,
 * in a socket's backlog processing). A second program on each tracepoint
 * (the *_nested ones) runs the same handler, but only for the hits the
 * kernel skipped the first for: while a run of the first is in progress
 * on its CPU (runs nest, they do not interleave: tracepoint programs run
 * with preemption off). The first program's own flag (struct cpu_state)
 * covers its body, not the edges of its run, where the kernel counts it
 * as running too (this_cpu_inc_return(*prog->active) before its first
 * instruction, the decrement after its last); an interrupt there whose
 * softirq changes states had a whole burst skipped and not taken (182 in
 * one run under TCG on 6.1). So at the edges the second reads that count:
 * the loader has ka_find_primaries and ka_find_cpu_states find it (a
 * per-CPU pointer) and cpu_states' per-CPU base; this CPU's offset is
 * where cpu_states' slot is here less that base. Where they could not,
 * the flag decides, as before: a miss at the edges, never a run taken
 * twice. The loader counts as lost only the misses these did not take.
 */
__u32 primary_id[PRIMARIES];		/* set by the loader */
__u32 cpu_states_id;			/* set by the loader */
__u64 primary_active[PRIMARIES];	/* their prog->active */
__u64 cpu_states_base;		/* cpu_states' per-CPU pointer */

SEC("iter/bpf_prog")
int ka_find_primaries(struct bpf_iter__bpf_prog *ctx)
{
	struct bpf_prog *prog = ctx->prog;
	__u32 id;

	if (!prog || !bpf_core_field_exists(prog->active))	/* 5.12 */
		return 0;
	id = BPF_CORE_READ(prog, aux, id);
	for (int i = 0; i < PRIMARIES; i++)
		if (id && id == primary_id[i])
			primary_active[i] = (__u64)BPF_CORE_READ(prog, active);
	return 0;
}

SEC("iter/bpf_map")
int ka_find_cpu_states(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_array *array = (struct bpf_array *)ctx->map;	/* map: its first member */
	void *base = NULL;

	if (!array || !cpu_states_id || BPF_CORE_READ(array, map.id) != cpu_states_id)
		return 0;
	if (!bpf_core_read(&base, sizeof(base), &array->pptrs[0]))
		cpu_states_base = (__u64)base;
	return 0;
}

/* What the programs share on one CPU: one lookup a run */
struct cpu_state {
	struct timer_slot timer;
	__u32 set_state;	/* ka_set_state in progress */
	__u32 receive_reset;	/* ka_receive_reset in progress */
	__u64 self;				/* see primary_skipped() */
	__u64 primary_runs_at[PRIMARIES];	/* this CPU's prog->active of each */
	__u64 primary_hit[PRIMARIES];		/* the hit (ctx) each runs or last ran for */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_state);
} cpu_states SEC(".maps");

static __always_inline struct cpu_state *this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_states, &zero);
}

/* Whether the kernel skipped the first program (which) for this hit: a
 * run of it is in progress on this CPU (flag: its own mark, set in its
 * body; at the edges of its run, the kernel's count). A hit is known by
 * ctx, the argument array of the tracepoint's call, where the first
 * program's was (the same frame of bpf_trace_run*() called in turn for
 * each program): one it marked at its start it ran, which spares the
 * count's probe read in all but the runs after an interrupt. */
static __always_inline bool primary_skipped(struct cpu_state *cpu, int which, __u32 flag,
					    void *ctx)
{
	__u64 hit = (__u64)ctx, runs_at;
	int runs;

	if (cpu->primary_hit[which] == hit) {
		cpu->primary_hit[which] = 0;
		return false;
	}
	if (flag)
		return true;
	runs_at = cpu->primary_runs_at[which];
	if (!runs_at) {
		if (!primary_active[which] || !cpu_states_base)
			return false;
		/* the slot's address as a number, stored and read back: the
		 * verifier refuses arithmetic between a map value pointer and
		 * an unbounded number (adjust_ptr_min_max_vals()); storing a
		 * pointer takes CAP_PERFMON, which tracing needs anyway */
		cpu->self = (__u64)cpu;
		runs_at = primary_active[which] + (*(volatile __u64 *)&cpu->self - cpu_states_base);
		cpu->primary_runs_at[which] = runs_at;
	}
	if (bpf_probe_read_kernel(&runs, sizeof(runs), (void *)runs_at))
		return false;
	return runs > 0;
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
				       const struct conn_state *cs, __u8 type)
{
	struct inet_connection_sock *icsk = (void *)sk;
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	struct tcp_sock *tp = (void *)sk;

	read_tuple(sk, &e->t);
	if (filter_family && e->t.family != filter_family)
		return false;
	if (filter_port && e->t.sport != filter_port && e->t.dport != filter_port)
		return false;
	e->netns = BPF_CORE_READ(net, ns.inum);
	if (filter_netns && e->netns != filter_netns)
		return false;
	if (cs) {
		e->pid = cs->pid;
		e->start_ns = cs->start_ns;
		__builtin_memcpy(e->comm, cs->comm, sizeof(e->comm));
	}
	/* An unknown owner (socket older than us) is resolved and filtered
	 * by the loader. */
	if (filter_pid && e->pid && e->pid != filter_pid)
		return false;

	e->type = type;
	e->ts_ns = bpf_ktime_get_ns();
	e->sk = (__u64)sk;
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->sock = (__u64)BPF_CORE_READ(sk, sk_socket);
	e->cgroup_id = sock_cgroup_id(sk, SK_PROBE_READS);
	e->idle_ms = ka_effective_ms(BPF_CORE_READ(tp, keepalive_time),
				     BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_time));
	e->intvl_ms = ka_effective_ms(BPF_CORE_READ(tp, keepalive_intvl),
				      BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_intvl));
	e->probes_max = ka_effective_cnt(BPF_CORE_READ(tp, keepalive_probes),
					 BPF_CORE_READ(net, ipv4.sysctl_tcp_keepalive_probes));
	e->user_timeout_ms = BPF_CORE_READ(icsk, icsk_user_timeout);
	e->ka_source = ka_source_of(sk, BPF_CORE_READ(sk, __sk_common.skc_flags));
	/* rcv_tstamp is tcp_jiffies32 of the last segment received */
	e->silence_ms = jiffies_to_ms((__u32)bpf_jiffies64() - BPF_CORE_READ(tp, rcv_tstamp));
	return true;
}

static __always_inline void submit(struct ka_event *e)
{
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		count(CNT_RINGBUF_LOST);
}

/* The socket whose keepalive timer this is: container_of() over either
 * layout (ka_timer_offset()). */
static __always_inline struct sock *timer_sock(struct timer_list *timer)
{
	struct sock *sk = (void *)timer - ka_timer_offset();

	/* as computed here: left to fold with a field's offset, clang makes
	 * one offset of unknown sign, which verifiers before 6.18 refuse on
	 * a trusted pointer ("math between trusted_ptr_ pointer and register
	 * with unbounded min value") */
	barrier_var(sk);
	return sk;
}

/* The peer acked: tcp_ack() reset icsk_probes_out to 0 while we still count
 * unanswered probes. */
static __always_inline void check_answered(struct sock *sk, struct conn_state *cs, __u8 probes_out)
{
	struct ka_event e = {};

	if (!cs->unanswered || probes_out)
		return;
	if (fill_event(&e, sk, cs, EV_ANSWERED)) {
		e.probes = cs->unanswered;
		submit(&e);
	}
	cs->unanswered = 0;
	cs->answers++;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(ka_timer_entry, struct timer_list *timer)
{
	struct cpu_state *cpu;
	struct timer_slot *slot;
	struct conn_state *cs;
	struct sock *sk;
	__u64 key;

	if (timer->function != (void *)&tcp_keepalive_timer)
		return 0;
	cpu = this_cpu();
	if (!cpu)
		return 0;
	slot = &cpu->timer;
	sk = timer_sock(timer);
	key = (__u64)sk;
	slot->sk = key;
	slot->probes_before = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_probes_out);
	if (slot->probes_before)
		return 0;
	cs = bpf_map_lookup_elem(&conns, &key);
	if (cs)
		check_answered(sk, cs, 0);
	return 0;
}

/* tcp_keepalive_timer() re-arms its timer (inet_csk_reset_keepalive_timer())
 * after every probe, the socket still locked and held: a probe is
 * icsk_probes_out one higher than at entry here, with nothing in flight and
 * nothing queued (the kernel probes only then; a zero-window probe raising
 * icsk_probes_out between entry and the callback's lock is not one). Not at
 * timer_expire_exit: the callback unlocks the socket before it returns, and
 * a segment from the peer processed on another CPU meanwhile (its own
 * probe, when both ends probe at once) zeroes icsk_probes_out in tcp_ack().
 * timer_start fires with the timer base's lock held and interrupts off
 * (enqueue_timer()), so this program never nests. */
SEC("tp_btf/timer_start")
int BPF_PROG(ka_timer_start, struct timer_list *timer)
{
	struct ka_event e = {};
	struct cpu_state *cpu;
	struct conn_state *cs;
	struct tcp_sock *tp;
	struct sock *sk;
	__u8 probes_out;
	__u64 key;

	if (timer->function != (void *)&tcp_keepalive_timer)
		return 0;
	cpu = this_cpu();
	sk = timer_sock(timer);
	key = (__u64)sk;
	if (!cpu || cpu->timer.sk != key)
		return 0;	/* armed elsewhere than in its own callback */
	cpu->timer.sk = 0;	/* once: the callback re-arms once */
	tp = (struct tcp_sock *)sk;
	probes_out = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_probes_out);
	if (probes_out != (__u8)(cpu->timer.probes_before + 1) || BPF_CORE_READ(tp, packets_out) ||
	    BPF_CORE_READ(tp, write_seq) != BPF_CORE_READ(tp, snd_nxt))
		return 0;

	cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs) {
		/* opened before we started: track it from now on */
		struct conn_state fresh = {};

		if (bpf_map_update_elem(&conns, &key, &fresh, BPF_NOEXIST))
			count(CNT_CONN_TABLE_FULL);
		cs = bpf_map_lookup_elem(&conns, &key);
	}
	if (cs) {
		cs->unanswered = probes_out;
		cs->probes_sent++;
		cs->flags |= CONN_REPORTED;
	}
	if (fill_event(&e, sk, cs, EV_PROBE)) {
		e.probes = probes_out;
		submit(&e);
	}
	return 0;
}

/* The callback is over: a keepalive death in it has been told (see
 * death_cause()), and its socket may be freed by now (the callback's final
 * sock_put()): not read. */
SEC("tp_btf/timer_expire_exit")
int BPF_PROG(ka_timer_exit, struct timer_list *timer)
{
	struct cpu_state *cpu;

	if (timer->function != (void *)&tcp_keepalive_timer)
		return 0;
	cpu = this_cpu();
	if (cpu && cpu->timer.sk == (__u64)timer_sock(timer))
		cpu->timer.sk = 0;
	return 0;
}

/* Why the kernel gave up on a socket; sk_err is already set. */
static __always_inline __u8 death_cause(struct sock *sk, int err, int oldstate,
					const struct conn_state *cs, const struct cpu_state *cpu)
{
	struct inet_connection_sock *icsk = (void *)sk;
	bool user_timeout = BPF_CORE_READ(icsk, icsk_user_timeout) != 0;

	if (cs && (cs->flags & CONN_RESET_RX))
		return CAUSE_RESET;
	if (err == ECONNABORTED)
		return CAUSE_LOCAL_ABORT;
	/* tcp_write_err() passes sk_err_soft (an ICMP error) in place of
	 * ETIMEDOUT; in SYN_SENT, tcp_v4_err() kills with the ICMP error. */
	if (err != ETIMEDOUT)
		return CAUSE_UNREACHABLE;
	if (cpu && cpu->timer.sk == (__u64)sk)
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

/* A listener's key, or for an accepted socket the key of the listener on
 * its local address (any: the wildcard one). port: skc_num while the
 * socket is hashed; inet_sport once inet_put_port() has zeroed skc_num
 * (at TCP_CLOSE). */
static __always_inline struct listener_key listener_key(struct sock *sk, __u16 port, bool any)
{
	struct listener_key k = {
		.netns = sk->__sk_common.skc_net.net->ns.inum,
		.port = port,
		.family = sk->__sk_common.skc_family,
	};

	if (any)
		return k;
	if (k.family == AF_INET)
		__builtin_memcpy(k.addr, &sk->__sk_common.skc_rcv_saddr, 4);
	else
		BPF_CORE_READ_INTO((struct in6_addr *)k.addr, sk, __sk_common.skc_v6_rcv_saddr);
	return k;
}

/* cpu: this CPU's state, NULL if it could not be had */
static __always_inline void conn_closed(struct sock *sk, int oldstate, struct cpu_state *cpu)
{
	__u64 key = (__u64)sk;
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	int err = sk->sk_err;
	struct ka_event e = {};

	if (oldstate == TCP_LISTEN) {
		struct listener_key lk = listener_key(
			sk, bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport)), false);
		struct listen_owner *l;

		if (bpf_map_delete_elem(&counted_listeners, &key))
			return;	/* listening since before we started */
		l = bpf_map_lookup_elem(&listeners, &lk);
		/* no fetching atomics before 5.12 (and -mcpu=v3): two
		 * listeners closing at once at worst leave the record, which
		 * the next listen() on that address and port takes over */
		if (l && l->sockets > 1)
			__sync_fetch_and_add(&l->sockets, -1);
		else if (l)
			bpf_map_delete_elem(&listeners, &lk);
		return;
	}
	if (err) {
		if (fill_event(&e, sk, cs, EV_DEATH)) {
			e.state = oldstate;
			e.err = err;
			e.cause = death_cause(sk, err, oldstate, cs, cpu);
			e.probes = cs ? cs->unanswered : 0;
			submit(&e);
		}
	} else if (cs && (cs->flags & CONN_REPORTED)) {
		check_answered(sk, cs, BPF_CORE_READ((struct inet_connection_sock *)sk,
						     icsk_probes_out));
		if (fill_event(&e, sk, cs, EV_CLOSE)) {
			e.state = oldstate;
			submit(&e);
		}
	}
	if (cs)
		bpf_map_delete_elem(&conns, &key);
}

/* In connect() (SYN_SENT) and listen(): the current task owns the socket.
 * A listener's record goes to "listeners" only, for what it accepts. */
static __always_inline void conn_opened(struct sock *sk, int newstate)
{
	struct conn_state cs = {
		.start_ns = bpf_ktime_get_ns(),
		.pid = bpf_get_current_pid_tgid() >> 32,
	};
	struct listener_key lk;
	struct listen_owner *l;
	__u64 key = (__u64)sk;

	bpf_get_current_comm(cs.comm, sizeof(cs.comm));
	if (newstate == TCP_LISTEN) {
		lk = listener_key(sk, sk->__sk_common.skc_num, false);
		if (bpf_map_update_elem(&counted_listeners, &key, &(__u8){ 1 }, BPF_NOEXIST))
			return;	/* full, or counted already */
		/* the first on its address and port creates the record; one
		 * that lost that race on another CPU adds itself to it */
		if (!bpf_map_update_elem(&listeners, &lk,
					 &(struct listen_owner){ .owner = cs, .sockets = 1 },
					 BPF_NOEXIST))
			return;
		l = bpf_map_lookup_elem(&listeners, &lk);
		if (l) {
			l->owner = cs;
			__sync_fetch_and_add(&l->sockets, 1);
		}
	} else if (bpf_map_update_elem(&conns, &key, &cs, BPF_ANY)) {
		count(CNT_CONN_TABLE_FULL);
	}
}

/* In softirq: the owner is the listener's (unknown if it is older than us). */
static __always_inline void passive_established(struct sock *sk)
{
	struct listener_key lk = listener_key(sk, sk->__sk_common.skc_num, false);
	struct listen_owner *l = bpf_map_lookup_elem(&listeners, &lk);
	struct conn_state cs = {};
	__u64 key = (__u64)sk;

	if (!l) {
		lk = listener_key(sk, sk->__sk_common.skc_num, true);
		l = bpf_map_lookup_elem(&listeners, &lk);
	}
	if (l)
		cs = l->owner;
	cs.start_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&conns, &key, &cs, BPF_ANY))
		count(CNT_CONN_TABLE_FULL);
}

static __always_inline bool state_wanted(struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_CLOSE && newstate != TCP_SYN_SENT && newstate != TCP_LISTEN &&
	    !(newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV))
		return false;
	return sk->sk_protocol == IPPROTO_TCP;
}

static __always_inline void state_changed(struct sock *sk, int oldstate, int newstate,
					  struct cpu_state *cpu)
{
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
		conn_opened(sk, newstate);
		break;
	case TCP_ESTABLISHED:
		passive_established(sk);
		break;
	case TCP_CLOSE:
		conn_closed(sk, oldstate, cpu);
		break;
	}
}

/* Marked running first, for every transition: the kernel skips a run
 * nested in any run of ours, also in one of a transition we ignore. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ka_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct cpu_state *cpu = this_cpu();

	if (cpu) {
		cpu->set_state = 1;
		cpu->primary_hit[PRIMARY_SET_STATE] = (__u64)ctx;
	}
	if (state_wanted(sk, oldstate, newstate))
		state_changed(sk, oldstate, newstate, cpu);
	if (cpu)
		cpu->set_state = 0;
	return 0;
}

/* Attached after ka_set_state: see "Runs the kernel would skip". Every
 * skipped run counts as taken, also one of a transition we ignore. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(ka_state_nested, struct sock *sk, int oldstate, int newstate)
{
	struct cpu_state *cpu = this_cpu();

	if (!cpu || !primary_skipped(cpu, PRIMARY_SET_STATE, cpu->set_state, ctx))
		return 0;
	if (state_wanted(sk, oldstate, newstate))
		state_changed(sk, oldstate, newstate, cpu);
	count(CNT_STATE_TAKEN);
	return 0;
}

/* tcp_reset() fires tcp_receive_reset, then tcp_done_with_error(). */
static __always_inline void reset_received(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);

	if (cs)
		cs->flags |= CONN_RESET_RX;
	else if (bpf_map_update_elem(&conns, &key, &(struct conn_state){ .flags = CONN_RESET_RX },
				     BPF_NOEXIST))
		count(CNT_CONN_TABLE_FULL);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(ka_receive_reset, struct sock *sk)
{
	struct cpu_state *cpu = this_cpu();

	if (cpu) {
		cpu->receive_reset = 1;
		cpu->primary_hit[PRIMARY_RECEIVE_RESET] = (__u64)ctx;
	}
	reset_received(sk);
	if (cpu)
		cpu->receive_reset = 0;
	return 0;
}

/* Attached after ka_receive_reset: see "Runs the kernel would skip" */
SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(ka_reset_nested, struct sock *sk)
{
	struct cpu_state *cpu = this_cpu();

	if (!cpu || !primary_skipped(cpu, PRIMARY_RECEIVE_RESET, cpu->receive_reset, ctx))
		return 0;
	reset_received(sk);
	count(CNT_RESET_TAKEN);
	return 0;
}
