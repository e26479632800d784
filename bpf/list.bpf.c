// SPDX-License-Identifier: GPL-2.0
/*
 * list: a record per TCP socket of the reader's network namespace, with
 * its keepalive state, for `tcpkawatch list`. The timer is told the way
 * inet_sk_diag_fill() tells it to ss, so that the two agree.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcpkawatch.h"
#include "ka_common.bpf.h"
#include "ka_owners.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The inode costs a cache miss a socket (it lives apart from the sock):
 * read only for output that shows it. Owners are matched on the struct
 * socket address, which both passes have at hand. */
const volatile bool with_inode = false;

const volatile __u32 hz = 0;	/* see ka_common.bpf.h */

/* A running observer's connection table (watch's "conns"), given to this
 * object by the loader when one runs (with_observer): what the observer
 * counted of a socket goes out with the socket's record, one lookup in
 * the kernel instead of a bpf() call a socket from the loader. */
const volatile bool with_observer = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct conn_state);
} observer_conns SEC(".maps");

/* include/net/inet_connection_sock.h */
#define ICSK_TIME_RETRANS	1
#define ICSK_TIME_PROBE0	3
#define ICSK_TIME_LOSS_PROBE	5
#define ICSK_TIME_REO_TIMEOUT	6

static __always_inline __s32 until_ms(unsigned long expires, __u64 now)
{
	return jiffies_to_ms_signed((long)(expires - now));
}


SEC("iter/tcp")
int ka_list(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct inet_connection_sock *icsk;
	struct list_record r = {};
	struct tcp_sock *tp;
	struct sock *sk;
	struct net *net;
	__u64 now = bpf_jiffies64();
	__u8 pending;

	if (!skc)
		return 0;
	r.uid = ctx->uid;
	r.state = skc->skc_state;
	skc_tuple(skc, &r.t);
	tp = bpf_skc_to_tcp_sock(skc);	/* NULL for TIME_WAIT, NEW_SYN_RECV */
	if (!tp) {
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	sk = (struct sock *)tp;
	icsk = (struct inet_connection_sock *)tp;
	r.full = 1;
	r.sk = (__u64)sk;
	if (with_observer) {
		struct conn_state *seen = bpf_map_lookup_elem(&observer_conns, &r.sk);

		if (seen) {
			r.seen = 1;
			r.probes_sent = seen->probes_sent;
			r.answers = seen->answers;
		}
	}
	/* direct reads: the iterator's pointers are trusted, no probe reads */
	net = sk->__sk_common.skc_net.net;
	r.sock = (__u64)sk->sk_socket;
	if (with_inode)
		r.ino = socket_inode(sk->sk_socket);
	r.cgroup_id = sock_cgroup_id(sk, SK_PLAIN_LOADS);
	r.keepalive = keepalive_on(sk->__sk_common.skc_flags);
	r.ka_source = ka_source_of(sk, sk->__sk_common.skc_flags);
	r.probes_out = icsk->icsk_probes_out;
	r.retransmits = icsk->icsk_retransmits;
	r.ka_idle_ms = ka_effective_ms(tp->keepalive_time, net->ipv4.sysctl_tcp_keepalive_time);
	r.ka_intvl_ms = ka_effective_ms(tp->keepalive_intvl, net->ipv4.sysctl_tcp_keepalive_intvl);
	r.ka_cnt = ka_effective_cnt(tp->keepalive_probes, net->ipv4.sysctl_tcp_keepalive_probes);
	r.user_timeout_ms = icsk->icsk_user_timeout;
	if (r.state != TCP_LISTEN) {	/* a listener receives and sends nothing */
		r.silence_ms = jiffies_to_ms((__u32)now - tp->rcv_tstamp);
		r.last_send_ms = jiffies_to_ms((__u32)now - tp->lsndtime);
	}
	pending = icsk->icsk_pending;
	if (pending == ICSK_TIME_RETRANS || pending == ICSK_TIME_LOSS_PROBE ||
	    pending == ICSK_TIME_REO_TIMEOUT) {
		r.timer = LT_ON;
		r.timer_ms = until_ms(icsk->icsk_retransmit_timer.expires, now);
	} else if (pending == ICSK_TIME_PROBE0) {
		r.timer = LT_PERSIST;
		r.timer_ms = until_ms(icsk->icsk_retransmit_timer.expires, now);
	} else {
		struct timer_list *ka = KA_TIMER_IN_ICSK ?
			&((struct inet_connection_sock___ka_timer *)icsk)->icsk_keepalive_timer :
			&sk->sk_timer;

		if (ka->entry.pprev) {	/* timer_pending() */
			r.timer = LT_KEEPALIVE;
			r.timer_ms = until_ms(ka->expires, now);
		}
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
