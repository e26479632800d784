// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "kernel.h"

struct need {
	cap_value_t cap;
	bool missing;
};

/* At most one of each: CAP_BPF, CAP_PERFMON, CAP_SYSLOG, CAP_NET_ADMIN,
 * CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_RESOURCE, CAP_DAC_OVERRIDE */
#define MAX_NEEDS 8

static void add_need(struct need *needs, int *n, cap_value_t cap, bool missing)
{
	for (int i = 0; i < *n; i++) {
		if (needs[i].cap == cap) {
			needs[i].missing |= missing;
			return;
		}
	}
	needs[(*n)++] = (struct need){ .cap = cap, .missing = missing };
}

static bool held(cap_t caps, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	return !cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) && v == CAP_SET;
}

/* "CAP_A, CAP_B and CAP_C": all of them, or only the missing ones */
static void print_needs(const struct need *needs, int n, bool only_missing)
{
	int left = 0;

	for (int i = 0; i < n; i++)
		left += !only_missing || needs[i].missing;
	for (int i = 0; i < n; i++) {
		char *name;

		if (only_missing && !needs[i].missing)
			continue;
		name = cap_to_name(needs[i].cap);	/* "cap_bpf" */
		for (char *c = name; c && *c; c++)
			*c = toupper((unsigned char)*c);
		fprintf(stderr, "%s%s", name ? name : "?", --left > 1 ? ", " : left ? " and " : "");
		cap_free(name);
	}
}

/* Whether the kernel counts BPF memory against RLIMIT_MEMLOCK: before
 * 5.11, which moved it to the memory cgroup and brought the helper
 * bpf_ktime_get_coarse_ns() along (libbpf decides so too). A probe the
 * kernel does not allow at all counts as supported: then CAP_BPF is
 * missing, and named. */
static bool bpf_memory_in_memlock(void)
{
	return !libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER,
					BPF_FUNC_ktime_get_coarse_ns, NULL);
}

/* A sysctl's value ("kernel/kptr_restrict"), def where it has none */
static long sysctl_value(const char *name, long def)
{
	char path[64];
	FILE *f;
	long v = def;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = def;
		fclose(f);
	}
	return v;
}

int check_privileges(const char *what, unsigned int privs, const char *dir)
{
	/* CAP_IS_SUPPORTED: whether the kernel knows the capability */
	bool bpf_caps = CAP_IS_SUPPORTED(CAP_BPF), admin, dir_denied = false;
	struct need needs[MAX_NEEDS];
	int n = 0, missing = 0, kptr_restrict;
	struct rlimit memlock;
	cap_t caps = cap_get_proc();

	if (!caps) {
		fprintf(stderr, "tcpkawatch: cannot read my capabilities: %s\n", strerror(errno));
		return -1;
	}
	admin = held(caps, CAP_SYS_ADMIN);
	if (privs & PRIV_BPF)
		add_need(needs, &n, bpf_caps ? CAP_BPF : CAP_SYS_ADMIN,
			 !admin && !held(caps, CAP_BPF));
	if (privs & PRIV_TRACE)
		add_need(needs, &n, bpf_caps ? CAP_PERFMON : CAP_SYS_ADMIN,
			 !admin && !held(caps, CAP_PERFMON));
	/* /proc/kallsyms shows the addresses to every user where
	 * kptr_restrict is 0 and perf_event_paranoid at most 1, else with
	 * CAP_SYSLOG, and to no one where kptr_restrict is 2
	 * (kallsyms_show_value()) */
	kptr_restrict = sysctl_value("kernel/kptr_restrict", 0);
	if ((privs & PRIV_KSYM) && kptr_restrict > 1) {
		fprintf(stderr, "tcpkawatch: %s needs the kernel's addresses, which "
			"kernel.kptr_restrict=2 hides from everyone\n", what);
		cap_free(caps);
		return -1;
	}
	if ((privs & PRIV_KSYM) && (kptr_restrict ||
					   sysctl_value("kernel/perf_event_paranoid", 2) > 1)) {
		add_need(needs, &n, CAP_SYSLOG, !held(caps, CAP_SYSLOG));
	}
	if (privs & (PRIV_NET_ADMIN | PRIV_SOCK_DESTROY))
		add_need(needs, &n, CAP_NET_ADMIN, (!admin || (privs & PRIV_SOCK_DESTROY)) &&
			 !held(caps, CAP_NET_ADMIN));
	if (privs & (PRIV_NETNS | PRIV_MOUNT))
		add_need(needs, &n, CAP_SYS_ADMIN, !admin);
	if (privs & PRIV_NETNS)
		add_need(needs, &n, CAP_SYS_PTRACE, !held(caps, CAP_SYS_PTRACE));
	/* libbpf raises the limit to unlimited, past its maximum only with
	 * CAP_SYS_RESOURCE */
	if ((privs & PRIV_BPF) && !getrlimit(RLIMIT_MEMLOCK, &memlock) &&
	    memlock.rlim_max != RLIM_INFINITY && bpf_memory_in_memlock())
		add_need(needs, &n, CAP_SYS_RESOURCE, !held(caps, CAP_SYS_RESOURCE));
	cap_free(caps);
	/* needed where the real IDs without capabilities (what access()
	 * checks for a user other than root) may not write in dir, missing
	 * where the effective IDs and capabilities may not either */
	if (dir && access(dir, W_OK | X_OK) && errno != ENOENT) {
		if (errno != EACCES && errno != EPERM) {
			fprintf(stderr, "tcpkawatch: %s cannot write in %s: %s\n", what, dir,
				strerror(errno));
			return -1;
		}
		dir_denied = faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0;
		add_need(needs, &n, CAP_DAC_OVERRIDE, dir_denied);
	}
	for (int i = 0; i < n; i++)
		missing += needs[i].missing;
	if (!missing)
		return 0;
	fprintf(stderr, "tcpkawatch: %s needs ", what);
	print_needs(needs, n, false);
	fprintf(stderr, " (missing: ");
	print_needs(needs, n, true);
	if (dir_denied)
		fprintf(stderr, " for %s", dir);
	fprintf(stderr, "); run as root or grant them\n");
	return -1;
}

int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "tcpkawatch: kernel has no BTF (/sys/kernel/btf/vmlinux: %s); "
			"needs CONFIG_DEBUG_INFO_BTF=y\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* What an open TCP socket takes at the least: struct tcp_sock (2.3 KiB on
 * 6.18) and its file, inode and dentry (about 1.2 KiB) */
#define SOCKET_MEMORY_MIN 4096UL

unsigned long tcp_sockets_max(void)
{
	unsigned long files = sysctl_value("fs/file-max", LONG_MAX);
	unsigned long orphans = sysctl_value("net/ipv4/tcp_max_orphans", 0);
	unsigned long in_memory = 0;
	struct sysinfo si;

	if (!sysinfo(&si))
		in_memory = (unsigned long)si.totalram * si.mem_unit / SOCKET_MEMORY_MIN;
	if (in_memory && in_memory < files)
		files = in_memory;
	return files + orphans;
}

unsigned long conn_table_max(void)
{
	return bpf_memory_in_memlock() ? 1UL << 25 : 1UL << 27;
}

int check_kernel_support(void)
{
	if (check_btf())
		return -1;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fprintf(stderr, "tcpkawatch: kernel lacks BPF ring buffers (Linux 5.8 or later)\n");
		return -1;
	}
	return 0;
}
