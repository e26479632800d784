// SPDX-License-Identifier: GPL-2.0
/* `tcpkawatch enforce`: keepalive for connections that never asked for it. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "enforce.h"
#include "enforce.skel.h"
#include "bpf_log.h"
#include "bpf_read.h"
#include "cgroup.h"
#include "netns.h"
#include "kernel.h"
#include "tcpkawatch.h"

#define BPFFS "/sys/fs/bpf"
#define PIN_DIR BPFFS "/tcpkawatch"
#define PIN_LINK PIN_DIR "/enforce_link"
#define PIN_SOCKOPT_LINK PIN_DIR "/enforce_sockopt_link"
#define PIN_MARKS PIN_DIR "/enforce_marks"
#define PIN_POLICY PIN_DIR "/enforce_policy"
#define PIN_COUNTERS PIN_DIR "/enforce_counters"

enum enforce_action { ACT_RUN, ACT_STATUS, ACT_OFF };

struct enforce_opts {
	struct enforce_policy policy;
	bool user_timeout_auto;
	enum enforce_action action;
	bool pin;
	bool existing;
	const char *cgroup;	/* NULL: the cgroup v2 root */
};

static const char enforce_doc[] =
"Turn TCP keepalive on for connections whose application never set it.\n"
"\n"
"A BPF sockops program on a cgroup v2 (by default the root: the whole\n"
"system, every network namespace) sets SO_KEEPALIVE, TCP_KEEPIDLE,\n"
"TCP_KEEPINTVL and TCP_KEEPCNT on every TCP connection that reaches\n"
"ESTABLISHED from then on, outgoing and accepted, static and Go binaries\n"
"included. Fill mode (the default) keeps the values of a socket whose\n"
"application turned keepalive on itself; --override replaces them. It\n"
"stays in the foreground and removes itself on Ctrl-C or SIGTERM (and on\n"
"SIGKILL: the attachment dies with the process), unless --pin.\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch enforce --idle 60 --intvl 10 --cnt 6\n"
"  tcpkawatch enforce --idle 5 --intvl 5 --cnt 3 --user-timeout auto\n"
"  tcpkawatch enforce --cgroup /sys/fs/cgroup/system.slice/app.service\n"
"  tcpkawatch enforce --port 5432 --port 6379      # only these ports\n"
"  tcpkawatch enforce --exclude-port 22 --override\n"
"  tcpkawatch enforce --existing   # also connections open already\n"
"  tcpkawatch enforce --pin ...    # persistent; then --status, --off\n";

enum {
	OPT_OVERRIDE = 1000, OPT_EXCLUDE, OPT_PIN, OPT_STATUS, OPT_OFF, OPT_USER_TIMEOUT,
	OPT_EXISTING,
};

static const struct argp_option enforce_options[] = {
	{ "idle", 'i', "SECONDS", 0, "Idle time before the first probe (1-32767; default 60)", 0 },
	{ "intvl", 'I', "SECONDS", 0, "Time between probes (1-32767; default 10)", 0 },
	{ "cnt", 'c', "COUNT", 0, "Unanswered probes before the kernel gives up (1-127; default 6)", 0 },
	{ "user-timeout", OPT_USER_TIMEOUT, "MS|auto", 0,
	  "Also set TCP_USER_TIMEOUT (0-2147483647 ms; auto: (idle + intvl * cnt) s)", 0 },
	{ "cgroup", 'g', "PATH", 0, "Only processes in this cgroup v2 (default: the root)", 0 },
	{ "port", 'P', "PORT", 0, "Only connections with this local or remote port (repeatable)", 0 },
	{ "exclude-port", OPT_EXCLUDE, "PORT", 0, "Never connections with this port (repeatable)", 0 },
	{ "override", OPT_OVERRIDE, NULL, 0, "Replace an application's own keepalive values", 0 },
	{ "existing", OPT_EXISTING, NULL, 0,
	  "Also apply the policy, once, to connections already established, in every "
	  "network namespace", 0 },
	{ "pin", OPT_PIN, NULL, 0, "Stay attached after exit (pinned under " PIN_DIR ")", 0 },
	{ "status", OPT_STATUS, NULL, 0, "Show the pinned enforcement", 0 },
	{ "off", OPT_OFF, NULL, 0, "Remove the pinned enforcement", 0 },
	COMMON_OPTIONS,
	{},
};

static void add_port(__u16 *list, __u8 *n, const char *arg, const char *what)
{
	unsigned long v;

	if (!parse_ulong(arg, 1, 65535, &v))
		usage_error("invalid %s '%s': 1 to 65535", what, arg);
	if (*n >= ENFORCE_MAX_PORTS)
		usage_error("at most %d %ss", ENFORCE_MAX_PORTS, what);
	list[(*n)++] = v;
}

static error_t enforce_parse(int key, char *arg, struct argp_state *state)
{
	struct enforce_opts *o = state->input;
	struct enforce_policy *p = &o->policy;
	unsigned long v;

	switch (key) {
	case 'i':
		p->idle_s = parse_ka_value(arg, "idle", KA_MAX_IDLE);
		break;
	case 'I':
		p->intvl_s = parse_ka_value(arg, "intvl", KA_MAX_INTVL);
		break;
	case 'c':
		p->cnt = parse_ka_value(arg, "cnt", KA_MAX_CNT);
		break;
	case OPT_USER_TIMEOUT:
		if (!strcmp(arg, "auto"))
			o->user_timeout_auto = true;
		else if (!parse_ulong(arg, 0, 2147483647UL, &v))
			usage_error("invalid user timeout '%s': milliseconds, 0 to 2147483647, or auto",
				    arg);
		else
			p->user_timeout_ms = v;
		break;
	case 'g':
		o->cgroup = arg;
		break;
	case 'P':
		add_port(p->ports, &p->nports, arg, "port");
		break;
	case OPT_EXCLUDE:
		add_port(p->exclude, &p->nexclude, arg, "excluded port");
		break;
	case OPT_OVERRIDE:
		p->override = 1;
		break;
	case OPT_PIN:
		o->pin = true;
		break;
	case OPT_EXISTING:
		o->existing = true;
		break;
	case OPT_STATUS:
	case OPT_OFF:
		if (o->action != ACT_RUN)
			usage_error("--status and --off exclude each other");
		o->action = key == OPT_STATUS ? ACT_STATUS : ACT_OFF;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

static void parse_enforce_args(int argc, char **argv, struct enforce_opts *o)
{
	static const struct argp argp = {
		.options = enforce_options,
		.parser = enforce_parse,
		.doc = enforce_doc,
	};
	struct enforce_policy *p = &o->policy;

	p->idle_s = 60;
	p->intvl_s = 10;
	p->cnt = 6;
	parse_command(&argp, "tcpkawatch enforce", argc, argv, o);
	if (o->user_timeout_auto) {
		/* do_tcp_setsockopt() takes an int: refuse what it would
		 * refuse now, not after idle, intvl and cnt were set */
		__u64 ms = ((__u64)p->idle_s + (__u64)p->intvl_s * p->cnt) * 1000;

		if (ms > INT_MAX)
			usage_error("--user-timeout auto: (idle + intvl * cnt) s is %llu ms, over 2147483647",
				    (unsigned long long)ms);
		p->user_timeout_ms = ms;
	}
	if (o->pin && o->action != ACT_RUN)
		usage_error("--pin goes with a policy, not with --status or --off");
}


/* The cgroup to attach to: --cgroup, checked to be a cgroup v2 directory,
 * else the root of the cgroup v2 hierarchy as /proc/mounts gives it. Its
 * id and depth go into the policy for --existing. */
static int resolve_cgroup(const char *want, struct enforce_policy *p)
{
	char *path = p->cgroup;
	size_t len = sizeof(p->cgroup);

	if (want) {
		char root[PATH_MAX];
		struct statfs fs;
		struct stat st;

		if (statfs(want, &fs)) {
			fprintf(stderr, "tcpkawatch: cgroup '%s': %s\n", want, strerror(errno));
			return -1;
		}
		if (fs.f_type != CGROUP2_SUPER_MAGIC) {
			fprintf(stderr, "tcpkawatch: '%s' is not a cgroup v2 directory\n", want);
			return -1;
		}
		if (!realpath(want, root) || stat(root, &st)) {
			fprintf(stderr, "tcpkawatch: cgroup '%s': %s\n", want, strerror(errno));
			return -1;
		}
		if (strlen(root) >= len) {
			fprintf(stderr, "tcpkawatch: cgroup path too long: '%s'\n", root);
			return -1;
		}
		memcpy(path, root, strlen(root) + 1);
		/* the cgroup v2 id is the directory's inode (kernfs node id) */
		p->cgroup_id = st.st_ino;
		if (cgroup2_root(root, sizeof(root)) || strncmp(path, root, strlen(root)) != 0) {
			fprintf(stderr, "tcpkawatch: '%s' is not under the cgroup v2 root\n", want);
			return -1;
		}
		for (const char *c = path + strlen(root); *c; c++)
			p->cgroup_level += *c == '/' && c[1] && c[1] != '/';
		return 0;
	}
	if (cgroup2_root(path, len)) {
		fprintf(stderr, "tcpkawatch: no cgroup v2 hierarchy mounted (see /proc/mounts)\n");
		return -1;
	}
	return 0;
}

/* --existing: the iter/tcp program applies the policy as it walks */
static int walk_existing(void *ctx, __u32 netns)
{
	(void)netns;
	if (!iter_read(bpf_link__fd(ctx), 0, NULL, NULL))
		return 0;
	fprintf(stderr, "tcpkawatch: walking the TCP sockets: %s\n", strerror(errno));
	return -1;
}

/* Returns the network namespaces walked, or -1. */
static int enforce_existing(struct enforce_bpf *skel)
{
	struct bpf_link *iter = bpf_program__attach_iter(skel->progs.ka_enforce_existing, NULL);
	struct netns_skipped skipped;
	int walked;

	if (!iter) {
		fprintf(stderr, "tcpkawatch: cannot create the TCP socket iterator: %s "
			"(iter/tcp needs Linux 5.9 or later)\n", strerror(errno));
		return -1;
	}
	walked = for_each_netns(0, walk_existing, iter, &skipped);
	bpf_link__destroy(iter);
	netns_skipped_warn(&skipped);
	return walked;
}

static void describe(FILE *f, const struct enforce_policy *p)
{
	fprintf(f, "idle=%us intvl=%us cnt=%u", p->idle_s, p->intvl_s, p->cnt);
	if (p->user_timeout_ms)
		fprintf(f, " user_timeout=%ums", p->user_timeout_ms);
	fprintf(f, " mode=%s", p->override ? "override" : "fill");
	for (int i = 0; i < p->nports; i++)
		fprintf(f, "%s%u", i ? "," : " ports=", p->ports[i]);
	for (int i = 0; i < p->nexclude; i++)
		fprintf(f, "%s%u", i ? "," : " exclude=", p->exclude[i]);
	fprintf(f, " cgroup=%s", p->cgroup);
}

/* What the counters in map cfd say: "set on N connection(s), ..." */
static void print_counts(FILE *f, int cfd)
{
	unsigned long long unmarked = percpu_counter_sum(cfd, ENF_UNMARKED);

	fprintf(f, "set on %llu connection(s), kept the application's on %llu, failed on %llu; "
		"the application took over on %llu", percpu_counter_sum(cfd, ENF_SET),
		percpu_counter_sum(cfd, ENF_KEPT_APP), percpu_counter_sum(cfd, ENF_FAILED),
		percpu_counter_sum(cfd, ENF_APP_TOOK_OVER));
	if (unmarked)
		fprintf(f, "; %llu left unmarked (no memory: they show as ka_source app)", unmarked);
}

static int show_status(void)
{
	struct enforce_policy p;
	__u32 zero = 0;
	int fd = bpf_obj_get(PIN_POLICY), cfd;
	char since[64];
	time_t t;

	if (fd < 0 && errno == ENOENT) {
		printf("not enforced: nothing pinned at %s\n", PIN_DIR);
		return 0;
	}
	if (fd < 0) {
		fprintf(stderr, "tcpkawatch: cannot open %s: %s\n", PIN_POLICY, strerror(errno));
		return 1;
	}
	if (bpf_map_lookup_elem(fd, &zero, &p)) {
		fprintf(stderr, "tcpkawatch: cannot read %s: %s\n", PIN_POLICY, strerror(errno));
		return 1;
	}
	t = p.since;
	strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S %z", localtime(&t));
	printf("enforced since %s: ", since);
	describe(stdout, &p);
	cfd = bpf_obj_get(PIN_COUNTERS);
	if (cfd >= 0) {
		printf("; ");
		print_counts(stdout, cfd);
	}
	printf("\n");
	return 0;
}

/* Removing the pins drops the last reference to the link: it detaches. */
static int remove_pins(bool quiet)
{
	const char *pins[] = { PIN_LINK, PIN_SOCKOPT_LINK, PIN_POLICY, PIN_COUNTERS, PIN_MARKS };
	int removed = 0, err = 0;

	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		if (!unlink(pins[i])) {
			removed++;
		} else if (errno != ENOENT && !err) {
			/* still attached: say so, not "removed" */
			fprintf(stderr, "tcpkawatch: cannot remove %s: %s\n", pins[i], strerror(errno));
			err = 1;
		}
	}
	rmdir(PIN_DIR);
	if (!quiet && !err)
		printf(removed ? "enforcement removed\n" : "not enforced: nothing pinned at %s\n",
		       PIN_DIR);
	return err;
}

static bool bpffs_mounted(void)
{
	struct statfs fs;

	return !statfs(BPFFS, &fs) && fs.f_type == BPF_FS_MAGIC;
}

/* Pins need the BPF filesystem at /sys/fs/bpf, which systemd mounts at
 * boot but a bare system may not have: mount it, as bpftool does. */
static int mount_bpffs(void)
{
	if (bpffs_mounted())
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		fprintf(stderr, "tcpkawatch: no BPF filesystem at %s and cannot mount one: %s\n",
			BPFFS, strerror(errno));
		return -1;
	}
	fprintf(stderr, "tcpkawatch: mounted the BPF filesystem at %s\n", BPFFS);
	return 0;
}

struct enforce_session {
	struct enforce_bpf *skel;
	struct bpf_link *link;		/* sockops */
	struct bpf_link *sockopt_link;	/* cgroup/setsockopt */
	int cg_fd;
};

static int pin_all(struct enforce_session *s)
{
	if (mount_bpffs())
		return -1;
	if (mkdir(PIN_DIR, 0700) && errno != EEXIST) {
		fprintf(stderr, "tcpkawatch: cannot create %s: %s\n", PIN_DIR, strerror(errno));
		return -1;
	}
	/* a second --pin replaces the first: the new link is attached
	 * already, the old one goes with its pin */
	remove_pins(true);
	mkdir(PIN_DIR, 0700);
	if (bpf_link__pin(s->link, PIN_LINK) || bpf_link__pin(s->sockopt_link, PIN_SOCKOPT_LINK) ||
	    bpf_map__pin(s->skel->maps.policy, PIN_POLICY) ||
	    bpf_map__pin(s->skel->maps.enforce_counters, PIN_COUNTERS) ||
	    bpf_map__pin(s->skel->maps.enforce_marks, PIN_MARKS)) {
		fprintf(stderr, "tcpkawatch: cannot pin under %s: %s\n", PIN_DIR, strerror(errno));
		remove_pins(true);
		return -1;
	}
	return 0;
}

/* The iterator only when asked for: a kernel that refuses it still
 * enforces on new connections. NULL with *err: the load's error, or 0
 * when the object could not even be opened (said on stderr). */
static struct enforce_bpf *load_enforce(bool existing, int *err)
{
	struct enforce_bpf *skel = enforce_bpf__open();
	int marks_fd;

	*err = 0;
	if (!skel) {
		fprintf(stderr, "tcpkawatch: cannot open the BPF object: %s\n", strerror(errno));
		return NULL;
	}
	bpf_program__set_autoload(skel->progs.ka_enforce_existing, existing);
	/* the marks of a pinned enforcement that this one replaces stay
	 * with the sockets: one map */
	marks_fd = bpf_obj_get(PIN_MARKS);
	if (marks_fd >= 0) {
		*err = bpf_map__reuse_fd(skel->maps.enforce_marks, marks_fd);
		close(marks_fd);
	}
	if (!*err)
		*err = enforce_bpf__load(skel);
	if (*err) {
		enforce_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

struct enforce_session *enforce_attach(struct enforce_policy *p, const char *cgroup,
				       bool existing)
{
	struct enforce_session *s = calloc(1, sizeof(*s));
	__u32 zero = 0;
	int err;

	if (!s) {
		fprintf(stderr, "tcpkawatch: out of memory\n");
		return NULL;
	}
	s->cg_fd = -1;
	if (check_btf() || resolve_cgroup(cgroup, p))
		goto fail;
	s->cg_fd = open(p->cgroup, O_RDONLY | O_DIRECTORY);
	if (s->cg_fd < 0) {
		fprintf(stderr, "tcpkawatch: cannot open cgroup %s: %s\n", p->cgroup, strerror(errno));
		goto fail;
	}
	libbpf_load_begin();
	s->skel = load_enforce(existing, &err);
	if (!s->skel && existing && err) {
		/* which one does this kernel refuse? (5.10 has no
		 * bpf_setsockopt() in iterators) The messages kept are the
		 * first load's. */
		int sockops_err;
		struct enforce_bpf *sockops_only = load_enforce(false, &sockops_err);

		if (sockops_only) {
			enforce_bpf__destroy(sockops_only);
			report_load_error("the --existing iterator", err,
					  "enforce without --existing works on this kernel");
			goto fail;
		}
	}
	if (!s->skel) {
		if (err)
			report_load_error("the sockops program", err, NULL);
		goto fail;
	}
	p->since = time(NULL);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.policy), &zero, p, BPF_ANY)) {
		fprintf(stderr, "tcpkawatch: cannot set the policy: %s\n", strerror(errno));
		goto fail;
	}
	/* a bpf_link: multi-attach, other sockops programs keep running */
	s->link = bpf_program__attach_cgroup(s->skel->progs.ka_enforce, s->cg_fd);
	if (!s->link) {
		fprintf(stderr, "tcpkawatch: cannot attach sockops to %s: %s\n", p->cgroup,
			strerror(errno));
		goto fail;
	}
	s->sockopt_link = bpf_program__attach_cgroup(s->skel->progs.ka_app_sockopt, s->cg_fd);
	if (!s->sockopt_link) {
		fprintf(stderr, "tcpkawatch: cannot attach cgroup/setsockopt to %s: %s\n",
			p->cgroup, strerror(errno));
		goto fail;
	}
	return s;
fail:
	enforce_detach(s, false);
	return NULL;
}

void enforce_detach(struct enforce_session *s, bool report)
{
	if (!s)
		return;
	if (report && s->skel) {
		fprintf(stderr, "Keepalive ");
		print_counts(stderr, bpf_map__fd(s->skel->maps.enforce_counters));
		fprintf(stderr, "; removed.\n");
	}
	bpf_link__destroy(s->sockopt_link);
	bpf_link__destroy(s->link);
	enforce_bpf__destroy(s->skel);
	if (s->cg_fd >= 0)
		close(s->cg_fd);
	free(s);
}

static int enforce(struct enforce_opts *o)
{
	struct enforce_policy *p = &o->policy;
	struct enforce_session *s = enforce_attach(p, o->cgroup, o->existing);
	int err = 1, cfd, sig;
	sigset_t stop;

	if (!s)
		return 1;
	if (o->existing) {
		int walked = enforce_existing(s->skel);

		if (walked < 0)
			goto out;
		cfd = bpf_map__fd(s->skel->maps.enforce_counters);
		fprintf(stderr, "Existing connections: keepalive set on %llu, the application's kept "
			"on %llu, in %d network namespace(s).\n",
			percpu_counter_sum(cfd, ENF_EXISTING_SET),
			percpu_counter_sum(cfd, ENF_EXISTING_KEPT_APP), walked);
	}
	if (o->pin) {
		if (pin_all(s))
			goto out;
		printf("enforcing (pinned at %s): ", PIN_LINK);
		describe(stdout, p);
		printf("\n");
		err = 0;
		goto out;
	}
	/* Blocked and waited for: a signal at any moment ends the run, once
	 * (a handler and pause() would miss one arriving just before). */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	fprintf(stderr, "Enforcing TCP keepalive ");
	describe(stderr, p);
	fprintf(stderr, " on connections established from now on. Ctrl-C to end.\n");
	while (sigwait(&stop, &sig))
		;
	enforce_detach(s, true);
	return 0;
out:
	enforce_detach(s, false);
	return err;
}

/* What the action needs (README, "Privileges"): the programs, and the
 * pins' directory where it reads, writes or removes them. */
static int check_enforce_privileges(const struct enforce_opts *o)
{
	/* its object has no __ksym extern: no PRIV_KSYM */
	unsigned int privs = PRIV_BPF | PRIV_TRACE | PRIV_NET_ADMIN;
	const char *dir = NULL;
	char what[64];

	if (o->action == ACT_STATUS)
		privs = PRIV_BPF;
	else if (o->action == ACT_OFF)
		privs = 0;
	if (o->existing)
		privs |= PRIV_NETNS;
	if (o->pin && !bpffs_mounted())
		privs |= PRIV_MOUNT;
	/* --pin creates the directory if it has to */
	if (o->action != ACT_RUN || o->pin)
		dir = o->pin && access(PIN_DIR, F_OK) ? BPFFS : PIN_DIR;
	snprintf(what, sizeof(what), "enforce%s%s%s", o->existing ? " --existing" : "",
		 o->pin ? " --pin" : "", o->action == ACT_STATUS ? " --status" :
		 o->action == ACT_OFF ? " --off" : "");
	return check_privileges(what, privs, dir);
}

int enforce_main(int argc, char **argv)
{
	struct enforce_opts o = {};

	parse_enforce_args(argc, argv, &o);
	if (check_enforce_privileges(&o))
		return 1;
	if (o.action == ACT_STATUS)
		return show_status();
	if (o.action == ACT_OFF)
		return remove_pins(false);
	return enforce(&o);
}
