/* SPDX-License-Identifier: GPL-2.0 */
/* What the BPF objects of tcpkawatch read from a socket the same way:
 * inline readers only, no globals, no maps. */
#ifndef KA_COMMON_BPF_H
#define KA_COMMON_BPF_H

#define AF_INET		2
#define AF_INET6	10

/* Kernel ticks a second: an object that converts jiffies defines it
 * (const volatile __u32 hz = 0;) and the loader sets it (kernel_hz()).
 * Not a __kconfig extern: libbpf fails the whole load when it finds no
 * kernel config (no /proc/config.gz, no /boot/config-$(uname -r), as in
 * containers). */
extern const volatile __u32 hz;

static __always_inline __u32 jiffies_to_ms(__u32 j)
{
	return hz ? (__u64)j * 1000 / hz : 0;
}

static __always_inline __s32 jiffies_to_ms_signed(long j)
{
	return j < 0 ? -(__s32)jiffies_to_ms(-j) : (__s32)jiffies_to_ms(j);
}

/*
 * Where TCP's keepalive timer lives. Older kernels run it on sk->sk_timer;
 * newer ones, and stable backports such as Debian's 6.1.192 and 6.12.117,
 * give it its own icsk_keepalive_timer in struct inet_connection_sock
 * (in a union with mptcp_tout_timer). Decided at load time by CO-RE field
 * existence: this flavour only matches the new layout.
 */
struct inet_connection_sock___ka_timer {
	struct timer_list icsk_keepalive_timer;
} __attribute__((preserve_access_index));

#define KA_TIMER_IN_ICSK \
	bpf_core_field_exists(struct inet_connection_sock___ka_timer, icsk_keepalive_timer)

/* The byte offset of the keepalive timer in a TCP socket. */
static __always_inline __u32 ka_timer_offset(void)
{
	if (KA_TIMER_IN_ICSK)
		return bpf_core_field_offset(struct inet_connection_sock___ka_timer,
					     icsk_keepalive_timer);
	return bpf_core_field_offset(struct sock, sk_timer);
}

/* keepalive_time_when() and friends (include/net/tcp.h): the socket's
 * value if set, else its namespace's sysctl. */
static __always_inline __u32 ka_effective_ms(__u32 sock_j, __u32 sysctl_j)
{
	return jiffies_to_ms(sock_j ? sock_j : sysctl_j);
}

static __always_inline __u8 ka_effective_cnt(__u8 sock_cnt, __u8 sysctl_cnt)
{
	return sock_cnt ? sock_cnt : sysctl_cnt;
}

/* SO_KEEPALIVE is on: sock_flag(sk, SOCK_KEEPOPEN), from skc_flags */
static __always_inline bool keepalive_on(unsigned long skc_flags)
{
	return skc_flags & (1UL << SOCK_KEEPOPEN);
}

/* How many sk_storage elements of a socket enforce_marked() looks at: one
 * per BPF_MAP_TYPE_SK_STORAGE map that holds something for the socket. */
#define KA_MARK_WALK_MAX 16

/*
 * enforce's mark (struct ka_mark) on a socket, looked up by reads as
 * bpf_local_storage_lookup() walks sk->sk_bpf_storage->list: the readers
 * cannot call bpf_sk_storage_get(). watch's timer hooks get the socket by
 * container_of(), a pointer the verifier does not trust; tracing programs
 * have the helper only from 5.11 (bpf_sk_storage_get_tracing_proto); and
 * the map is enforce's, held by its programs, maybe in another process or
 * pinned. The element is known by its value (size and KA_MARK_MAGIC), not
 * by its map's name.
 */
static __always_inline bool enforce_marked(struct sock *sk)
{
	struct bpf_local_storage *st = BPF_CORE_READ(sk, sk_bpf_storage);
	__u32 snode = bpf_core_field_offset(struct bpf_local_storage_elem, snode);
	struct hlist_node *n;

	if (!st)
		return false;
	n = BPF_CORE_READ(st, list.first);
	for (int i = 0; i < KA_MARK_WALK_MAX && n; i++) {
		struct bpf_local_storage_elem *e = (void *)n - snode;
		struct ka_mark m = {};

		if (BPF_CORE_READ(e, sdata.smap, map.value_size) == sizeof(m) &&
		    !bpf_core_read(&m, sizeof(m), &e->sdata.data) && m.magic == KA_MARK_MAGIC)
			return true;
		n = BPF_CORE_READ(n, next);
	}
	return false;
}

/* enum ka_source of a socket with these flags: off, on by the
 * application, or on with enforce's values (its mark). */
static __always_inline __u8 ka_source_of(struct sock *sk, unsigned long skc_flags)
{
	if (!keepalive_on(skc_flags))
		return KA_SRC_NONE;
	return enforce_marked(sk) ? KA_SRC_ENFORCED : KA_SRC_APP;
}

/* Before 5.15 (and 5.10.226): sock_cgroup_data is one word, the cgroup's
 * address or net_prio/net_cls data (bit 0) or "no refcount" (bit 1), for
 * which sock_cgroup_ptr() answers the root cgroup, as it does for 0. */
struct sock_cgroup_data___word {
	__u64 val;
} __attribute__((preserve_access_index));

/* cgroup v2's root: kernfs numbers its first node 1 (kernfs_new_node()) */
#define ROOT_CGROUP_ID 1

/*
 * The id of the cgroup v2 a socket was created in (its inode in the
 * cgroup2 file system), 0 if unknown: cgroup_sk_alloc() takes the
 * creating task's cgroup in sk_alloc(), an accepted socket keeps its
 * listener's (cgroup_sk_clone()), and the cgroup BPF programs, enforce's
 * sockops among them, go by this one (sock_cgroup_ptr()). With
 * SK_PLAIN_LOADS (sk is an iterator's BTF pointer) the reads are plain
 * loads, which the verifier makes fault-safe (BPF_PROBE_MEM), where a
 * probe read costs a helper call each (list over 96,000 sockets: 8 ms of
 * its 94 in the kernel); before 5.15 the cgroup is a number in a word,
 * read by probe reads either way.
 */
enum sk_reads { SK_PROBE_READS, SK_PLAIN_LOADS };

static __always_inline __u64 sock_cgroup_id(struct sock *sk, enum sk_reads reads)
{
	struct cgroup *cg;
	__u64 word;

	if (bpf_core_field_exists(struct sock_cgroup_data, cgroup)) {
		if (reads == SK_PLAIN_LOADS) {
			cg = sk->sk_cgrp_data.cgroup;
			return cg ? cg->kn->id : 0;
		}
		cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	} else {
		word = BPF_CORE_READ((struct sock_cgroup_data___word *)&sk->sk_cgrp_data, val);
		if (!word || (word & 3))
			return ROOT_CGROUP_ID;
		cg = (struct cgroup *)word;
	}
	return cg ? BPF_CORE_READ(cg, kn, id) : 0;
}

/* A socket's tuple as the iterators see it (their pointer is trusted:
 * direct reads); the local port is skc_num, the socket still hashed. */
static __always_inline void skc_tuple(const struct sock_common *skc, struct conn_tuple *t)
{
	t->family = skc->skc_family;
	t->sport = skc->skc_num;
	t->dport = bpf_ntohs(skc->skc_dport);
	if (t->family == AF_INET) {
		__builtin_memcpy(t->saddr, &skc->skc_rcv_saddr, 4);
		__builtin_memcpy(t->daddr, &skc->skc_daddr, 4);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)t->saddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)t->daddr, skc, skc_v6_daddr);
	}
}

/* One more in slot idx of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 counters */
static __always_inline void count_in(void *counters, __u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(counters, &idx);

	if (c)
		(*c)++;
}

/* The inode of a socket's file (as in /proc/PID/fd), 0 without one
 * (sk->sk_socket NULL): SOCK_INODE(), the inode is allocated with it. */
static __always_inline __u64 socket_inode(struct socket *sock)
{
	if (!sock)
		return 0;
	return BPF_CORE_READ(container_of(sock, struct socket_alloc, socket), vfs_inode.i_ino);
}

#endif
