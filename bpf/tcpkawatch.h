/* SPDX-License-Identifier: GPL-2.0 */
/* Records shared by the BPF programs and the userspace loader. */
#ifndef TCPKAWATCH_H
#define TCPKAWATCH_H

#define TASK_COMM_LEN 16

enum ka_event_type {
	EV_PROBE = 1,	/* a keepalive probe went out */
	EV_ANSWERED,	/* the peer answered after unanswered probes */
	EV_DEATH,	/* the kernel tore the connection down with an error */
	EV_CLOSE,	/* a connection we reported on ended without error */
};

enum death_cause {
	CAUSE_NONE = 0,
	CAUSE_KEEPALIVE,
	CAUSE_USER_TIMEOUT,
	CAUSE_RETRANSMIT,
	CAUSE_ZERO_WINDOW,
	CAUSE_SYN_TIMEOUT,
	CAUSE_RESET,
	CAUSE_UNREACHABLE,
	CAUSE_LOCAL_ABORT,
	CAUSE_MAX,
};

/* Indexes of the per-CPU counters in the "counters" map. */
enum ka_counter {
	CNT_RINGBUF_LOST,	/* records dropped: the ring buffer was full */
	CNT_CONN_TABLE_FULL,	/* connections not tracked: table full */
	CNT_STATE_TAKEN,	/* runs of ka_set_state the kernel skipped that
				 * ka_state_nested took (see watch.bpf.c) */
	CNT_RESET_TAKEN,	/* the same for ka_receive_reset */
	CNT_MAX,
};

/* The programs whose skipped runs a *_nested one takes (watch.bpf.c):
 * indexes of primary_id[] and primary_active[], which the loader fills. */
enum ka_primary {
	PRIMARY_SET_STATE,	/* ka_set_state */
	PRIMARY_RECEIVE_RESET,	/* ka_receive_reset */
	PRIMARIES,
};

/* Where a socket's keepalive came from. */
enum ka_source {
	KA_SRC_NONE = 1,	/* keepalive off */
	KA_SRC_APP,		/* the application turned it on */
	KA_SRC_ENFORCED,	/* tcpkawatch enforce turned it on */
};

/*
 * enforce marks the sockets whose keepalive it set with this value in its
 * BPF_MAP_TYPE_SK_STORAGE map, and drops the mark when the application
 * sets a keepalive option itself. Readers in other processes do not hold
 * that map: they find the mark among the socket's sk_storage by its size
 * and magic (enforce_marked()), not by a map name.
 */
#define KA_MARK_MAGIC 0x6b612d656e666f72ULL	/* "ka-enfor" */

struct ka_mark {
	__u64 magic;	/* KA_MARK_MAGIC */
};

/* watch's record of a connection (its "conns" map, by socket address),
 * which list reads from a running observer. */
struct conn_state {
	__u64 start_ns;		/* 0: opened before we started */
	__u32 pid;		/* 0: unknown */
	__u16 flags;
	__u8 unanswered;	/* keepalive probes out, as we last saw */
	__u8 pad;
	char comm[TASK_COMM_LEN];
	__u32 probes_sent;	/* keepalive probes since we started */
	__u32 answers;		/* times the peer answered them */
};

struct conn_tuple {
	__u8 saddr[16];		/* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 pad;
};

struct ka_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 sk;		/* socket address: identity while it lives */
	__u64 start_ns;		/* connect/accept time, 0 if before us */
	__u64 sock;		/* struct socket address (owner key), 0 once orphaned */
	__u64 cgroup_id;	/* the socket's cgroup v2 (sock_cgroup_id()), 0 if unknown */
	__u32 netns;		/* network namespace inode */
	__u32 pid;		/* owner, 0 if unknown */
	char comm[TASK_COMM_LEN];
	struct conn_tuple t;
	__u8 type;		/* enum ka_event_type */
	__u8 cause;		/* enum death_cause */
	__u8 state;		/* TCP state; for a death, the one before */
	__u8 probes;		/* probe: its number; answered, death:
				 * unanswered keepalive probes */
	__u8 probes_max;	/* effective keepalive count */
	__u8 ka_source;		/* enum ka_source */
	__u8 pad[2];
	__s32 err;		/* errno the application sees (death) */
	__u32 idle_ms;		/* effective keepalive idle */
	__u32 intvl_ms;		/* effective keepalive interval */
	__u32 silence_ms;	/* since the last segment received */
	__u32 user_timeout_ms;	/* TCP_USER_TIMEOUT, 0 if unset */
	__u32 pad2;
};

/* list: one TCP socket of a network namespace, as iter/tcp sees it. */
enum list_timer {
	LT_NONE,	/* ss: no timer */
	LT_ON,		/* retransmission, loss probe, reordering */
	LT_KEEPALIVE,
	LT_PERSIST,	/* zero window probe */
};

struct list_record {
	struct conn_tuple t;
	__u64 sk;		/* socket address: watch's key */
	__u64 sock;		/* struct socket address (owner key), 0 without a file */
	__u64 ino;		/* socket inode, 0 without a file or when not asked for */
	__u64 cgroup_id;	/* the socket's cgroup v2, 0 if unknown or not full */
	__u32 uid;
	__u8 state;
	__u8 keepalive;		/* SO_KEEPALIVE on */
	__u8 ka_source;		/* enum ka_source */
	__u8 timer;		/* enum list_timer */
	__u8 probes_out;	/* icsk_probes_out (ss: the timer's count) */
	__u8 retransmits;	/* icsk_retransmits */
	__u8 ka_cnt;		/* effective TCP_KEEPCNT */
	__u8 full;		/* a full socket: the fields below are set */
	__u32 ka_idle_ms;	/* effective TCP_KEEPIDLE */
	__u32 ka_intvl_ms;	/* effective TCP_KEEPINTVL */
	__s32 timer_ms;		/* until the timer fires */
	__u32 silence_ms;	/* since the last segment received */
	__u32 last_send_ms;	/* since the last data sent */
	__u32 user_timeout_ms;
	/* what a running observer (watch) counted of it: its conn_state's */
	__u32 probes_sent;
	__u32 answers;
	__u8 seen;		/* the observer tracks it: the two above are set */
};

/* list: a socket file held by a process (iter/task_file), for owners. */
struct owner_record {
	__u64 sock;		/* struct socket address */
	__u32 pid;		/* tgid */
	char comm[TASK_COMM_LEN];
	__u32 pad;
};

/* kill: a socket to destroy, by the address list saw (kill's "doomed"
 * map), with the tuple it had then: a socket now at that address with
 * another tuple, or of another kind, is not the one selected, and is left
 * alone. */
struct kill_slot {
	struct conn_tuple t;
	__s32 err;		/* bpf_sock_destroy()'s result, or -ESTALE */
	__u8 done;		/* the iterator came by */
	__u8 listener;		/* it was a listening socket */
	__u16 pad;
};

/* enforce: the keepalive policy the sockops program applies, within the
 * limits of do_tcp_setsockopt(): MAX_TCP_KEEPIDLE, _KEEPINTVL, _KEEPCNT. */
#define KA_MAX_IDLE	32767
#define KA_MAX_INTVL	32767
#define KA_MAX_CNT	127
#define ENFORCE_MAX_PORTS 16
#define ENFORCE_CGROUP_LEN 256

struct enforce_policy {
	__u32 idle_s;		/* TCP_KEEPIDLE */
	__u32 intvl_s;		/* TCP_KEEPINTVL */
	__u32 cnt;		/* TCP_KEEPCNT */
	__u32 user_timeout_ms;	/* TCP_USER_TIMEOUT; 0: left alone */
	__u8 override;		/* 0: keep an application's own keepalive */
	__u8 nports;		/* only these local or remote ports, if any */
	__u8 nexclude;		/* never these */
	__u8 pad;
	__u16 ports[ENFORCE_MAX_PORTS];
	__u16 exclude[ENFORCE_MAX_PORTS];
	__u64 since;		/* Unix time it was attached */
	__u64 cgroup_id;	/* the cgroup's id (its inode) ... */
	__u32 cgroup_level;	/* ... and depth; 0: the root, everything */
	__u32 pad2;
	char cgroup[ENFORCE_CGROUP_LEN];
};

enum enforce_counter {
	ENF_SET,		/* keepalive set on a connection */
	ENF_KEPT_APP,		/* the application's own keepalive kept */
	ENF_FAILED,		/* bpf_setsockopt() refused */
	ENF_EXISTING_SET,	/* --existing: set on an established connection */
	ENF_EXISTING_KEPT_APP,	/* --existing: the application's kept */
	ENF_UNMARKED,		/* set, but no memory for the mark: shows as app */
	ENF_APP_TOOK_OVER,	/* the application set keepalive itself afterwards */
	ENF_CNT_MAX,
};

#endif /* TCPKAWATCH_H */
