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

char LICENSE[] SEC("license") = "GPL";

/* include/net/inet_connection_sock.h */
#define ICSK_TIME_RETRANS	1
#define ICSK_TIME_PROBE0	3
#define ICSK_TIME_LOSS_PROBE	5
#define ICSK_TIME_REO_TIMEOUT	6

static __always_inline __s32 until_ms(unsigned long expires, __u64 now)
{
	return jiffies_to_ms_signed((long)(expires - now));
}

static __always_inline bool timer_pending_(struct timer_list *t)
{
	return BPF_CORE_READ(t, entry.pprev) != NULL;
}

SEC("iter/tcp")
int ka_list(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct inet_connection_sock *icsk;
	struct list_record r = {};
	struct tcp_sock *tp;
	struct sock *sk;
	__u64 now = bpf_jiffies64();
	__u8 pending;

	if (!skc)
		return 0;
	r.uid = ctx->uid;
	r.state = skc->skc_state;
	r.t.family = skc->skc_family;
	r.t.sport = skc->skc_num;
	r.t.dport = bpf_ntohs(skc->skc_dport);
	if (r.t.family == AF_INET) {
		__builtin_memcpy(r.t.saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(r.t.daddr, &skc->skc_daddr, 4);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)r.t.saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)r.t.daddr, skc, skc_v6_daddr);
	}
	tp = bpf_skc_to_tcp_sock(skc);	/* NULL for TIME_WAIT, NEW_SYN_RECV */
	if (!tp) {
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	sk = (struct sock *)tp;
	icsk = (struct inet_connection_sock *)tp;
	r.full = 1;
	r.ino = socket_inode(sk);
	r.keepalive = !!(sk->__sk_common.skc_flags & (1UL << SOCK_KEEPOPEN));
	r.ka_source = ka_source(sk);
	r.probes_out = icsk->icsk_probes_out;
	r.retransmits = icsk->icsk_retransmits;
	r.ka_idle_ms = ka_idle_ms(sk);
	r.ka_intvl_ms = ka_intvl_ms(sk);
	r.ka_cnt = ka_cnt(sk);
	r.user_timeout_ms = icsk->icsk_user_timeout;
	if (r.state != TCP_LISTEN) {	/* a listener receives and sends nothing */
		r.silence_ms = jiffies_to_ms((__u32)now - tp->rcv_tstamp);
		r.last_send_ms = jiffies_to_ms((__u32)now - tp->lsndtime);
	}
	pending = icsk->icsk_pending;
	if (pending == ICSK_TIME_RETRANS || pending == ICSK_TIME_LOSS_PROBE ||
	    pending == ICSK_TIME_REO_TIMEOUT) {
		r.timer = LT_ON;
		r.timer_ms = until_ms(BPF_CORE_READ(icsk, icsk_retransmit_timer.expires), now);
	} else if (pending == ICSK_TIME_PROBE0) {
		r.timer = LT_PERSIST;
		r.timer_ms = until_ms(BPF_CORE_READ(icsk, icsk_retransmit_timer.expires), now);
	} else if (timer_pending_(&sk->sk_timer)) {
		r.timer = LT_KEEPALIVE;
		r.timer_ms = until_ms(BPF_CORE_READ(sk, sk_timer.expires), now);
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
