/* SPDX-License-Identifier: GPL-2.0 */
/* What the BPF objects of tcpkawatch read from a socket the same way.
 * Included once per object: it defines the object's HZ globals. */
#ifndef KA_COMMON_BPF_H
#define KA_COMMON_BPF_H

#define AF_INET		2
#define AF_INET6	10

/* Kernel ticks a second: from the kernel config, else measured by the
 * loader (hz_fallback). */
extern unsigned int CONFIG_HZ __kconfig __weak;
const volatile __u32 hz_fallback = 0;

static __always_inline __u32 jiffies_to_ms(__u32 j)
{
	__u32 hz = CONFIG_HZ ? CONFIG_HZ : hz_fallback;

	return hz ? (__u64)j * 1000 / hz : 0;
}

static __always_inline __s32 jiffies_to_ms_signed(long j)
{
	return j < 0 ? -(__s32)jiffies_to_ms(-j) : (__s32)jiffies_to_ms(j);
}

/* keepalive_time_when() and friends (include/net/tcp.h): the socket's
 * value, else its namespace's sysctl. */
static __always_inline __u32 ka_idle_ms(struct sock *sk)
{
	__u32 j = BPF_CORE_READ((struct tcp_sock *)sk, keepalive_time);

	return jiffies_to_ms(j ? j : BPF_CORE_READ(sk, __sk_common.skc_net.net,
						   ipv4.sysctl_tcp_keepalive_time));
}

static __always_inline __u32 ka_intvl_ms(struct sock *sk)
{
	__u32 j = BPF_CORE_READ((struct tcp_sock *)sk, keepalive_intvl);

	return jiffies_to_ms(j ? j : BPF_CORE_READ(sk, __sk_common.skc_net.net,
						   ipv4.sysctl_tcp_keepalive_intvl));
}

static __always_inline __u8 ka_cnt(struct sock *sk)
{
	__u8 n = BPF_CORE_READ((struct tcp_sock *)sk, keepalive_probes);

	return n ? n : BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_tcp_keepalive_probes);
}

/* enum ka_source: off, or on by the application, or by enforce's tag */
static __always_inline __u8 ka_source(struct sock *sk)
{
	if (!(BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_KEEPOPEN)))
		return KA_SRC_NONE;
	if (BPF_CORE_READ((struct tcp_sock *)sk, bpf_sock_ops_cb_flags) & KA_ENFORCED_TAG)
		return KA_SRC_ENFORCED;
	return KA_SRC_APP;
}

/* The inode of the socket's file (as in /proc/PID/fd), 0 if it has none. */
static __always_inline __u64 socket_inode(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);

	if (!sock)
		return 0;
	return BPF_CORE_READ(container_of(sock, struct socket_alloc, socket), vfs_inode.i_ino);
}

#endif
