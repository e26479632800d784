// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kernel.h"

static bool libbpf_verbose;
/* The first warning libbpf gave since libbpf_load_begin(), and the reason
 * in the first verifier's log, for a one-line error. */
static char libbpf_warning[256], verifier_reason[256];

static void keep_line(char *dst, size_t len, const char *src, size_t n)
{
	while (n && (src[n - 1] == '\n' || src[n - 1] == ' '))
		n--;
	snprintf(dst, len, "%.*s", (int)n, src);
}

/* libbpf prints a refused program's log in one message, between these
 * markers (bpf_object_load_prog()); its last line before the statistics
 * ("processed N insns", and on newer kernels "verification time", "stack
 * depth") is the verifier's reason. */
static void keep_verifier_reason(const char *msg)
{
	static const char *const stats[] = { "processed ", "verification time", "stack depth" };
	const char *end = strstr(msg, "-- END PROG LOAD LOG --"), *line;
	const char *begin = strstr(msg, "-- BEGIN PROG LOAD LOG --");
	size_t i;

	if (!end || !begin || verifier_reason[0])
		return;
	begin = strchr(begin, '\n');	/* the log starts on the next line */
	while (begin) {
		while (end > begin && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		if (end <= begin + 1)
			return;	/* nothing but statistics */
		for (line = end; line[-1] != '\n'; line--)
			;
		for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
			if (!strncmp(line, stats[i], strlen(stats[i])))
				break;
		if (i == sizeof(stats) / sizeof(stats[0])) {
			keep_line(verifier_reason, sizeof(verifier_reason), line, end - line);
			return;
		}
		end = line;
	}
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *msg;
	const char *text;

	if (level == LIBBPF_DEBUG)
		return 0;
	/* whole, however long: a verifier log ends with its reason */
	if (vasprintf(&msg, fmt, args) < 0)
		return 0;
	if (libbpf_verbose)
		fputs(msg, stderr);
	if (level == LIBBPF_WARN) {
		keep_verifier_reason(msg);
		text = strncmp(msg, "libbpf: ", 8) ? msg : msg + 8;
		if (!libbpf_warning[0] && !strstr(text, "PROG LOAD LOG"))
			keep_line(libbpf_warning, sizeof(libbpf_warning), text,
				  strcspn(text, "\n") + 1);
	}
	free(msg);
	return 0;
}

void libbpf_messages(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

void libbpf_load_begin(void)
{
	libbpf_warning[0] = verifier_reason[0] = '\0';
}

void report_load_error(const char *what, int err, const char *hint)
{
	fprintf(stderr, "tcpkawatch: the kernel refused %s: %s", what,
		libbpf_warning[0] ? libbpf_warning : strerror(-err));
	if (verifier_reason[0])
		fprintf(stderr, " (verifier: %s)", verifier_reason);
	if (!hint && !libbpf_verbose)
		hint = "-v shows libbpf's messages";
	fprintf(stderr, "%s%s\n", hint ? "; " : "", hint ? hint : "");
}

int check_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "tcpkawatch: must run as root (it loads BPF programs)\n");
		return -1;
	}
	return 0;
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

int check_kernel_support(void)
{
	if (check_root() || check_btf())
		return -1;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fprintf(stderr, "tcpkawatch: kernel lacks BPF ring buffers (Linux 5.8 or later)\n");
		return -1;
	}
	return 0;
}

unsigned long long percpu_counter_sum(int map_fd, unsigned int idx)
{
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long vals[ncpus > 0 ? ncpus : 1], sum = 0;

	if (ncpus <= 0 || bpf_map_lookup_elem(map_fd, &idx, vals))
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += vals[i];
	return sum;
}

int cgroup2_root(char *path, size_t len)
{
	char dev[256], mnt[PATH_MAX], type[64];
	int found = -1;
	FILE *f = fopen("/proc/mounts", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(path, len, "%s", mnt);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

unsigned int hz_from_tick_ns(long tick_ns)
{
	return tick_ns > 0 ? (1000000000L + tick_ns / 2) / tick_ns : 0;
}

unsigned int kernel_hz(void)
{
	struct timespec res;

	/* posix_get_coarse_res(): the coarse clocks tick once a jiffy, and
	 * report TICK_NSEC, (NSEC_PER_SEC + HZ/2) / HZ, as their resolution. */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) || res.tv_sec)
		return 0;
	return hz_from_tick_ns(res.tv_nsec);
}

long long realtime_offset_ns(void)
{
	struct timespec real, mono;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

int for_each_netns(__u32 netns, int (*fn)(void *ctx, __u32 netns), void *ctx)
{
	enum { MAX_NETNS = 4096 };
	static ino_t seen[MAX_NETNS];
	const char *dirs[] = { "/proc", "/run/netns" };
	int self = open("/proc/self/ns/net", O_RDONLY), walked = 0, stop = 0;
	size_t n = 0;

	if (self < 0) {
		fprintf(stderr, "tcpkawatch: cannot open my network namespace: %s\n", strerror(errno));
		return -1;
	}
	for (size_t d = 0; d < 2 && !stop; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		while (dir && !stop && n < MAX_NETNS && (e = readdir(dir))) {
			char path[64];
			struct stat st;
			size_t i;
			int fd;

			if (e->d_name[0] == '.' || (!d && (e->d_name[0] < '0' || e->d_name[0] > '9')))
				continue;
			snprintf(path, sizeof(path), d ? "%s/%s" : "%s/%s/ns/net", dirs[d], e->d_name);
			fd = open(path, O_RDONLY);
			if (fd < 0 || fstat(fd, &st) || (netns && st.st_ino != netns)) {
				if (fd >= 0)
					close(fd);
				continue;	/* gone meanwhile, or not asked for */
			}
			for (i = 0; i < n && seen[i] != st.st_ino; i++)
				;
			if (i == n) {	/* a namespace not walked yet */
				seen[n++] = st.st_ino;
				if (!setns(fd, CLONE_NEWNET)) {
					stop = fn(ctx, st.st_ino);
					walked++;
				}
			}
			close(fd);
		}
		if (dir)
			closedir(dir);
	}
	if (setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "tcpkawatch: cannot return to my network namespace: %s\n",
			strerror(errno));
		walked = -1;
	}
	close(self);
	return stop < 0 ? -1 : walked;
}

int iter_read(int link_fd, size_t rec_size, void (*each)(void *ctx, const void *rec), void *ctx)
{
	static char buf[64 * 1024];
	int fd = bpf_iter_create(link_fd);
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		size_t off = 0;

		have += n;
		for (; each && have - off >= rec_size; off += rec_size)
			each(ctx, buf + off);
		have = each ? have - off : 0;
		memmove(buf, buf + off, have);
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

int observer_conns_fd(unsigned int value_size)
{
	__u32 id = 0;

	while (!bpf_map_get_next_id(id, &id)) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_map_get_fd_by_id(id);

		if (fd < 0)
			continue;	/* gone meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "conns") &&
		    info.type == BPF_MAP_TYPE_HASH && info.key_size == sizeof(__u64) &&
		    info.value_size == value_size)
			return fd;
		close(fd);
	}
	return -1;
}
