// SPDX-License-Identifier: GPL-2.0
/* The observer: load, attach, read events, summarize. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "aggregate.h"
#include "args.h"
#include "enforce.h"
#include "bpf_log.h"
#include "bpf_read.h"
#include "clock.h"
#include "kernel.h"
#include "output.h"
#include "owner.h"
#include "watch.skel.h"
#include "snapshot.h"
#include "watch.h"

static volatile sig_atomic_t exiting, reopen_stats;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reopen_stats = 1;
	else
		exiting = 1;
}

/* SIGINT and SIGTERM end the run, SIGHUP reopens the stats file (after
 * logrotate moved it). No SA_RESTART: the ring buffer's epoll_wait()
 * returns EINTR, and the loop sees the flag at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

struct watch_run {
	__u32 filter_pid;
	const struct watch_sink *sink;
	/* owners of sockets older than us (the observer's ka_owners
	 * iterator), refreshed at most once a second */
	struct bpf_link *owners_iter;
	struct owner_table *owners;
	__u64 owners_ns;
	struct out_ctx out;
	struct conn_table conns;
	bool out_of_memory;
	/* --stats-file: a record per connection as it ends */
	const char *stats_path;		/* NULL: none; "-": stdout */
	int stats_fd;
	int stats_errno;		/* the first write error, 0 if none */
};

/* Open (again, after SIGHUP) the stats file for appending; -1 with one
 * line on stderr. */
static int open_stats(struct watch_run *run)
{
	int fd;

	if (!strcmp(run->stats_path, "-")) {
		run->stats_fd = STDOUT_FILENO;
		return 0;
	}
	fd = open(run->stats_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "tcpkawatch: cannot write the stats file '%s': %s\n",
			run->stats_path, strerror(errno));
		return -1;
	}
	if (run->stats_fd >= 0)
		close(run->stats_fd);
	run->stats_fd = fd;
	return 0;
}

static void close_stats(struct watch_run *run)
{
	if (run->stats_fd > STDOUT_FILENO)
		close(run->stats_fd);
	run->stats_fd = -1;
}

/* A connection ended: its record to the stats file, then out of memory
 * unless the summary keeps it. */
static void connection_ended(struct watch_run *run, struct conn_record *r)
{
	if (run->stats_fd >= 0 && out_stats_record(run->stats_fd, r) && !run->stats_errno) {
		run->stats_errno = errno;
		fprintf(stderr, "tcpkawatch: writing the stats file: %s\n", strerror(errno));
	}
	conn_table_retire(&run->conns, r);
}

static void refresh_owners(struct watch_run *run, __u64 now)
{
	owner_table_free(run->owners);
	run->owners = owners_read(run->owners_iter);
	run->owners_ns = now;
}

/* The process holding the socket now, by its struct socket address. One
 * kernel pass finds the owners of all sockets, so a burst of events of old
 * connections costs one pass a second. A socket the last pass did not
 * know may have been accept()ed since: one more pass then, at most ten a
 * second. The pass is the observer's own program, loaded with it: a
 * second object loaded at the first event (libbpf parses the kernel's BTF
 * again: 2.4 s in a busy qemu guest) gave a dead connection's owner the
 * time to exit before the pass. */
static bool lookup_owner(struct watch_run *run, struct ka_event *e)
{
	return owner_table_find(run->owners, e->sock, &e->pid, e->comm);
}

static void find_owner(struct watch_run *run, struct ka_event *e)
{
	__u64 now = monotonic_ns();

	if (!run->owners || now - run->owners_ns >= 1000000000ULL)
		refresh_owners(run, now);
	if (!lookup_owner(run, e) && now - run->owners_ns >= 100000000ULL) {
		refresh_owners(run, now);
		lookup_owner(run, e);
	}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct watch_run *run = ctx;
	struct conn_record *r;
	struct ka_event e;

	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	/* Opened before we attached: the owner found at an earlier event,
	 * else the process holding the socket now (ka_owners' pass). */
	if (!e.pid) {
		r = conn_table_find_open(&run->conns, e.sk, e.netns);
		if (r && r->pid) {
			e.pid = r->pid;
			memcpy(e.comm, r->comm, sizeof(e.comm));
		} else if (e.sock) {
			find_owner(run, &e);
		}
	}
	if (run->filter_pid && e.pid != run->filter_pid)
		return 0;
	r = conn_table_update(&run->conns, &e);
	if (!r && !run->out_of_memory) {
		run->out_of_memory = true;
		fprintf(stderr, "tcpkawatch: out of memory: summary incomplete\n");
	}
	if (run->sink)
		run->sink->event(run->sink->ctx, &e);
	else
		out_event(&run->out, &e);
	if (r && r->end != END_OPEN)
		connection_ended(run, r);
	return 0;
}

static __u64 recursion_misses(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? 0
									   : info.recursion_misses;
}

/* Runs of our programs the kernel skipped: __bpf_trace_run() drops a run
 * while the same program is active on that CPU (a tracepoint hit in a
 * softirq that interrupted it), counting it in recursion_misses. Those of
 * ka_set_state and ka_receive_reset that their *_nested programs took are
 * not lost; a skipped run of a *_nested program is one its first program
 * made (see "Runs the kernel would skip" in watch.bpf.c). */
static __u64 hook_misses(struct watch_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.counters);
	/* misses first: a run taken after they were read is not one of them */
	__u64 state = recursion_misses(skel->progs.ka_set_state);
	__u64 reset = recursion_misses(skel->progs.ka_receive_reset);
	__u64 state_taken = percpu_counter_sum(fd, CNT_STATE_TAKEN);
	__u64 reset_taken = percpu_counter_sum(fd, CNT_RESET_TAKEN);

	return recursion_misses(skel->progs.ka_timer_entry) +
	       recursion_misses(skel->progs.ka_timer_start) +
	       recursion_misses(skel->progs.ka_timer_exit) +
	       (state > state_taken ? state - state_taken : 0) +
	       (reset > reset_taken ? reset - reset_taken : 0);
}

static struct lost_counts read_losses(struct watch_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.counters);
	struct lost_counts l = {
		.ringbuf_lost = percpu_counter_sum(fd, CNT_RINGBUF_LOST),
		.untracked_connections = percpu_counter_sum(fd, CNT_CONN_TABLE_FULL),
		.hook_misses = hook_misses(skel),
	};

	return l;
}

/* Losses are reported on stderr as soon as they are seen, and at exit. */
static void warn_lost(const struct lost_counts *l, __u64 *seen)
{
	__u64 total = l->ringbuf_lost + l->untracked_connections + l->hook_misses;

	if (total > *seen)
		print_lost(stderr, "tcpkawatch: warning: lost so far: ", l);
	*seen = total;
}

/* The kernel's run counts of ka_set_state and ka_receive_reset, for their
 * *_nested programs (see "Runs the kernel would skip" in watch.bpf.c):
 * iterators over the loaded programs and maps find them by id, and the
 * per-CPU base of cpu_states. Where they cannot, the *_nested programs go
 * by their flags. */
static void run_iter(const struct bpf_program *prog)
{
	struct bpf_link *it = bpf_program__attach_iter(prog, NULL);

	if (!it)
		return;
	iter_read(bpf_link__fd(it), 0, NULL, NULL);
	bpf_link__destroy(it);
}

static void find_primaries(struct watch_bpf *skel)
{
	const struct bpf_program *primary[PRIMARIES] = {
		[PRIMARY_SET_STATE] = skel->progs.ka_set_state,
		[PRIMARY_RECEIVE_RESET] = skel->progs.ka_receive_reset,
	};
	struct bpf_map_info map_info = {};
	__u32 len;

	for (size_t i = 0; i < PRIMARIES; i++) {
		struct bpf_prog_info info = {};

		len = sizeof(info);
		if (bpf_obj_get_info_by_fd(bpf_program__fd(primary[i]), &info, &len))
			return;
		skel->bss->primary_id[i] = info.id;
	}
	len = sizeof(map_info);
	if (bpf_obj_get_info_by_fd(bpf_map__fd(skel->maps.cpu_states), &map_info, &len))
		return;
	skel->bss->cpu_states_id = map_info.id;
	run_iter(skel->progs.ka_find_cpu_states);
	if (skel->bss->cpu_states_base)
		run_iter(skel->progs.ka_find_primaries);
}

/* A tracepoint calls its programs in the order they were attached
 * (tracepoint_add_func()): each *_nested one after the program whose
 * skipped runs it takes. The timer's entry program last: a callback
 * running while they attach must not leave its socket in the slot. */
static int attach_all(struct watch_bpf *skel)
{
	struct bpf_program *progs[] = {
		skel->progs.ka_timer_exit, skel->progs.ka_timer_start, skel->progs.ka_timer_entry,
		skel->progs.ka_set_state, skel->progs.ka_state_nested,
		skel->progs.ka_receive_reset, skel->progs.ka_reset_nested,
		skel->progs.ka_owners,
	};
	struct bpf_link **links[] = {
		&skel->links.ka_timer_exit, &skel->links.ka_timer_start, &skel->links.ka_timer_entry,
		&skel->links.ka_set_state, &skel->links.ka_state_nested,
		&skel->links.ka_receive_reset, &skel->links.ka_reset_nested,
		&skel->links.ka_owners,
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		*links[i] = bpf_program__attach(progs[i]);
		if (!*links[i]) {
			fprintf(stderr, "tcpkawatch: cannot attach %s: %s\n",
				bpf_program__section_name(progs[i]), strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The connection table, made here rather than by libbpf so that a table
 * the kernel cannot make (memory) is said as such: --max-connections, else
 * every TCP socket the system can hold, at most what the kernel makes
 * (conn_table_max()). The fd, or -1 with one line on stderr. */
static int make_conn_table(const struct watch_opts *opts)
{
	struct bpf_map_create_opts no_prealloc = {
		.sz = sizeof(no_prealloc), .map_flags = BPF_F_NO_PREALLOC,
	};
	unsigned long n = opts->max_conns ? opts->max_conns : tcp_sockets_max();
	int fd;

	if (n > conn_table_max())
		n = conn_table_max();
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "conns", sizeof(__u64), sizeof(struct conn_state),
			    n, &no_prealloc);
	if (fd < 0)
		fprintf(stderr, "tcpkawatch: cannot make a connection table of %lu entries: %s; "
			"--max-connections N makes a smaller one\n", n, strerror(errno));
	return fd;
}

/* Open the observer's object, set its constants, load it; NULL with one
 * line on stderr. */
static struct watch_bpf *load_observer(const struct watch_opts *opts)
{
	struct watch_bpf *skel = watch_bpf__open();
	int err, conns;

	if (!skel) {
		fprintf(stderr, "tcpkawatch: cannot open the BPF object: %s\n", strerror(errno));
		return NULL;
	}
	skel->rodata->filter_pid = opts->filter.pid;
	skel->rodata->filter_port = opts->filter.port;
	skel->rodata->filter_netns = opts->filter.netns;
	skel->rodata->filter_family = opts->filter.family;
	skel->rodata->hz = kernel_hz();
	if (!skel->rodata->hz) {
		fprintf(stderr, "tcpkawatch: cannot tell the kernel's HZ (clock_getres of "
			"CLOCK_MONOTONIC_COARSE failed)\n");
		watch_bpf__destroy(skel);
		return NULL;
	}
	bpf_map__set_max_entries(skel->maps.events,
				 opts->ringbuf_bytes ? opts->ringbuf_bytes : RINGBUF_DEFAULT);
	conns = make_conn_table(opts);
	err = conns < 0 ? conns : bpf_map__reuse_fd(skel->maps.conns, conns);
	if (conns >= 0)
		close(conns);	/* the object holds its own */
	if (err) {
		if (conns >= 0)
			fprintf(stderr, "tcpkawatch: cannot use the connection table: %s\n",
				strerror(-err));
		watch_bpf__destroy(skel);
		return NULL;
	}
	libbpf_load_begin();
	err = watch_bpf__load(skel);
	if (err) {
		report_load_error("the watch programs", err, NULL);
		watch_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static void say_ready(const struct watch_opts *opts, const struct watch_sink *sink, bool enforcing)
{
	if (sink)
		fprintf(stderr, "%s\n", sink->ready);
	else
		fprintf(stderr, "Watching TCP keepalive probes and connection deaths%s%s. "
			"Ctrl-C to end.\n", enforcing ? ", enforcing keepalive on new connections" : "",
			opts->duration_s ? " (with a time limit)" : "");
}

/* Read events until a signal, the duration, or the sink ends the run;
 * losses checked once a second. 0, or 1 when reading failed. */
static int event_loop(struct watch_run *run, struct watch_bpf *skel, struct ring_buffer *rb,
		      long duration_s, struct lost_counts *losses, __u64 *lost_seen)
{
	__u64 deadline = duration_s ? monotonic_ns() + duration_s * 1000000000ULL : 0;
	__u64 last_check = 0;

	while (!exiting) {
		int err = ring_buffer__poll(rb, 100);
		__u64 now;

		if (reopen_stats) {
			reopen_stats = 0;
			if (run->stats_path)
				open_stats(run);	/* else the old file stays */
		}
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "tcpkawatch: reading events: %s\n", strerror(-err));
			return 1;
		}
		now = monotonic_ns();
		if (now - last_check >= 1000000000ULL) {
			*losses = read_losses(skel);
			if (!run->sink)	/* a sink shows them its own way */
				warn_lost(losses, lost_seen);
			last_check = now;
		}
		if (run->sink && !run->sink->tick(run->sink->ctx, losses))
			break;
		if (deadline && now >= deadline)
			break;
	}
	return 0;
}

/* The end of a run: what is still queued, the summary, what was lost. */
static void finish_run(struct watch_run *run, struct watch_bpf *skel, struct ring_buffer *rb,
		       __u64 *lost_seen)
{
	struct lost_counts losses;

	ring_buffer__consume(rb);	/* queued before the end: this run's */
	if (!run->sink)	/* what went to stdout as it ended is not repeated */
		out_summary(&run->out, &run->conns, monotonic_ns(),
			    run->stats_fd == STDOUT_FILENO);
	losses = read_losses(skel);
	if (!run->sink)
		out_lost(&run->out, &losses);
	warn_lost(&losses, lost_seen);
}

int watch(const struct watch_opts *opts, const struct watch_sink *sink)
{
	struct watch_run run = {
		.filter_pid = opts->filter.pid,
		.sink = sink,
		.out = {
			.f = stdout, .json = opts->json,
			.endpoint_width = endpoint_width(opts->filter.family),
		},
		.stats_path = opts->stats_file,
		.stats_fd = -1,
	};
	struct enforce_session *enforcer = NULL;
	struct lost_counts losses = {};
	struct ring_buffer *rb = NULL;
	struct watch_bpf *skel = NULL;
	__u64 lost_seen = 0;
	int err = 1;

	/* export and top checked theirs: they walk the namespaces too */
	if (!sink && check_privileges(opts->enforce_cnt ? "watch --enforce" : "watch",
				      PRIV_OBSERVE | (opts->enforce_cnt ? PRIV_NET_ADMIN : 0), NULL))
		return 1;
	if (check_kernel_support())
		return 1;
	if (run.stats_path && open_stats(&run))
		return 1;
	skel = load_observer(opts);
	if (!skel)
		goto out;
	/* export and top keep no summary */
	if (conn_table_init(&run.conns, 4096, sink ? 0 : SUMMARY_KEEP)) {
		fprintf(stderr, "tcpkawatch: out of memory\n");
		goto out;
	}
	run.out.realtime_offset_ns = realtime_offset_ns();
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, &run, NULL);
	if (!rb) {
		fprintf(stderr, "tcpkawatch: cannot map the ring buffer: %s\n", strerror(errno));
		goto out;
	}
	find_primaries(skel);
	if (attach_all(skel))
		goto out;
	run.owners_iter = skel->links.ka_owners;
	if (opts->enforce_cnt) {
		struct enforce_policy policy = {
			.idle_s = opts->enforce_idle,
			.intvl_s = opts->enforce_intvl,
			.cnt = opts->enforce_cnt,
		};

		enforcer = enforce_attach(&policy, NULL, false);
		if (!enforcer)
			goto out;
	}
	catch_signals();
	say_ready(opts, sink, enforcer);
	if (!sink)
		out_header(&run.out);
	/* running: a signal from now on is a clean end */
	err = event_loop(&run, skel, rb, opts->duration_s, &losses, &lost_seen);
	finish_run(&run, skel, rb, &lost_seen);
	if (run.stats_errno)
		err = 1;
out:
	enforce_detach(enforcer, true);
	ring_buffer__free(rb);
	close_stats(&run);
	watch_bpf__destroy(skel);
	conn_table_free(&run.conns);
	owner_table_free(run.owners);
	return err;
}
