/* SPDX-License-Identifier: GPL-2.0 */
/* What the running kernel offers, and what it lets this process do,
 * checked before anything is loaded. */
#ifndef KERNEL_H
#define KERNEL_H

/* What a command does that the kernel guards with a capability (README,
 * "Privileges"). CAP_SYS_ADMIN does what CAP_BPF, CAP_PERFMON and
 * CAP_NET_ADMIN do for BPF, and a kernel that has no CAP_BPF (before
 * 5.8) knows only it. */
enum privilege {
	PRIV_BPF = 1 << 0,	/* CAP_BPF: maps and programs */
	PRIV_TRACE = 1 << 1,	/* CAP_PERFMON: tracing programs, iterators,
				 * BTF pointers (bpf_skc_to_tcp_sock()) */
	PRIV_NET_ADMIN = 1 << 2,	/* CAP_NET_ADMIN: sockops, cgroup/setsockopt */
	PRIV_NETNS = 1 << 3,	/* every network namespace: CAP_SYS_ADMIN for
				 * setns(), CAP_SYS_PTRACE for other users'
				 * /proc/PID/ns/net */
	PRIV_MOUNT = 1 << 4,	/* CAP_SYS_ADMIN: mount the BPF filesystem */
	PRIV_KSYM = 1 << 5,	/* the kernel's addresses in /proc/kallsyms, where
				 * libbpf resolves typeless __ksym externs:
				 * CAP_SYSLOG unless it shows them to everyone */
	PRIV_SOCK_DESTROY = 1 << 6,	/* CAP_NET_ADMIN itself, as inet_diag's
					 * SOCK_DESTROY asks (not CAP_SYS_ADMIN) */
};

/* what loading the observer's object takes (its tcp_keepalive_timer
 * extern), and the iterators' (list.bpf.c: no __ksym extern) */
#define PRIV_OBSERVE (PRIV_BPF | PRIV_TRACE | PRIV_KSYM)
#define PRIV_ITERATE (PRIV_BPF | PRIV_TRACE)

/* Each prints one line naming what is missing and returns -1, else 0. */

/* Whether this process may do what `what` (the command as typed: "list",
 * "enforce --pin") needs: privs (enum privilege); with PRIV_BPF, where
 * the kernel counts BPF memory against RLIMIT_MEMLOCK (before 5.11) and
 * the limit's maximum is not unlimited, CAP_SYS_RESOURCE, for libbpf to
 * raise it; and the right to create, open and remove files in dir, unless
 * NULL or missing: its owner, or CAP_DAC_OVERRIDE. The line names every
 * capability needed here and now, and those missing. */
int check_privileges(const char *what, unsigned int privs, const char *dir);
int check_btf(void);

/* How many TCP sockets this system can hold at once, to size the
 * observer's connection table by: one per open file (fs.file-max, which
 * the kernel sets from its memory, files_maxfiles_init(); systemd raises
 * it to LONG_MAX), at most one per 4 KiB of memory (what a socket with its
 * file takes at the least), and the orphans, which hold no file
 * (net.ipv4.tcp_max_orphans). */
unsigned long tcp_sockets_max(void);

/* The largest connection table the kernel makes: htab_map_alloc() refuses
 * more than U32_MAX / 16 bytes of buckets (2^27 entries); before 5.11 it
 * also refuses a charge to RLIMIT_MEMLOCK of 4 GiB or more
 * (bpf_map_charge_init()), about 112 bytes an entry: 2^25. */
unsigned long conn_table_max(void);
/* BTF and ring buffers: what watch needs of the kernel. */
int check_kernel_support(void);

#endif
