// SPDX-License-Identifier: GPL-2.0
/* Command-line options: watch's, and what every command shares (-v, -h,
 * -V, the connection filters, parse_command()). */
#include <argp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "args.h"
#include "bpf_log.h"
#include "kernel.h"
#include "tcpkawatch.h"

const char *argp_program_version = "tcpkawatch " TCPKAWATCH_VERSION;
const char *argp_program_bug_address = "the project's issue tracker";

static const char watch_doc[] =
"Show TCP keepalive probes, answers and connection deaths, system-wide.\n"
"\n"
"Every keepalive probe the kernel sends, every probe the peer answers, and\n"
"every connection the kernel tears down, with its cause: keepalive,\n"
"user_timeout, retransmit, zero_window, syn_timeout, reset, unreachable or\n"
"local_abort. On exit, a summary per connection seen. Needs root.\n"
"\n"
"EXAMPLES:\n"
"  tcpkawatch                 # watch everything, fixed-width columns\n"
"  tcpkawatch -j              # one JSON object per line\n"
"  tcpkawatch -d 60           # stop after 60 seconds and summarize\n"
"  tcpkawatch -p 1234         # sockets owned by process 1234\n"
"  tcpkawatch -P 443 -6       # IPv6 connections with local or remote port 443\n"
"  tcpkawatch -N 4026531840   # one network namespace (ls -iL /proc/PID/ns/net)\n"
"  tcpkawatch -e 60,10,6      # and turn keepalive on for new connections\n"
"  tcpkawatch -s conns.jsonl  # a record per connection as it ends\n"
"  tcpkawatch -b 64M -j | slow-consumer  # more room for bursts of events\n"
"\n"
"Turning keepalive on for programs that never set it: tcpkawatch enforce --help\n"
"Every connection now, with its keepalive state: tcpkawatch list --help\n"
"Prometheus metrics: tcpkawatch export --help\n"
"A live view: tcpkawatch top\n"
"Closing dead and half-open connections: tcpkawatch kill --help\n";

static const struct argp_option watch_options[] = {
	{ "json", 'j', NULL, 0, "One JSON object per line on stdout", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after SECONDS and print the summary", 0 },
	{ "enforce", 'e', "IDLE,INTVL,CNT", 0,
	  "Meanwhile turn keepalive on for every new connection (see tcpkawatch enforce)", 0 },
	{ "stats-file", 's', "PATH", 0,
	  "Append each connection's record to PATH as it ends (JSON lines; - for "
	  "stdout, with --json; SIGHUP reopens PATH)", 0 },
	{ "ringbuf-size", 'b', "SIZE", 0,
	  "Ring buffer for events: 4K to 1G, a power of two (default 4M). Records that do "
	  "not fit are counted and reported as lost: make it larger", 0 },
	MAX_CONNS_OPTION,
	COMMON_OPTIONS,
	{},
};

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tcpkawatch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

unsigned int parse_ka_value(const char *s, const char *what, unsigned long max)
{
	unsigned long v;

	if (!parse_ulong(s, 1, max, &v))
		usage_error("invalid %s '%s': 1 to %lu", what, s, max);
	return v;
}

/* --enforce IDLE,INTVL,CNT */
static void parse_enforce_triple(char *arg, struct watch_opts *o)
{
	char *intvl = strchr(arg, ','), *cnt = intvl ? strchr(intvl + 1, ',') : NULL;

	if (!intvl || !cnt)
		usage_error("invalid --enforce '%s': IDLE,INTVL,CNT such as 60,10,6", arg);
	*intvl++ = '\0';
	*cnt++ = '\0';
	o->enforce_idle = parse_ka_value(arg, "enforce idle", KA_MAX_IDLE);
	o->enforce_intvl = parse_ka_value(intvl, "enforce intvl", KA_MAX_INTVL);
	o->enforce_cnt = parse_ka_value(cnt, "enforce cnt", KA_MAX_CNT);
}

/* "4M", "512K", "1G" or bytes: a BPF ring buffer's size must be a power
 * of two and a multiple of the page size (ringbuf_map_alloc()). */
static __u32 parse_ringbuf_size(const char *arg)
{
	unsigned long v, unit = 1;
	char num[32];
	size_t len = strlen(arg);

	if (len && len < sizeof(num) && strchr("KkMmGg", arg[len - 1])) {
		unit = 1UL << (strchr("Kk", arg[len - 1]) ? 10 : strchr("Mm", arg[len - 1]) ? 20 : 30);
		len--;
	}
	if (len >= sizeof(num))
		usage_error("invalid ring buffer size '%s'", arg);
	memcpy(num, arg, len);
	num[len] = '\0';
	if (!parse_ulong(num, 1, (1UL << 30) / unit, &v) || v * unit < (unsigned long)getpagesize() ||
	    (v * unit) & (v * unit - 1))
		usage_error("invalid ring buffer size '%s': a power of two from 4K to 1G", arg);
	return v * unit;
}

__u32 parse_max_conns(const char *arg)
{
	unsigned long v;

	if (!parse_ulong(arg, 1, conn_table_max(), &v))
		usage_error("invalid --max-connections '%s': 1 to %lu on this kernel", arg,
			    conn_table_max());
	return v;
}

static error_t watch_parse(int key, char *arg, struct argp_state *state)
{
	struct watch_opts *o = state->input;
	unsigned long v;

	switch (key) {
	case 'j':
		o->json = true;
		break;
	case 'e':
		parse_enforce_triple(arg, o);
		break;
	case 's':
		o->stats_file = arg;
		break;
	case ARGP_KEY_END:
		if (o->stats_file && !strcmp(o->stats_file, "-") && !o->json)
			usage_error("--stats-file - needs --json: the records and the events "
				    "both go to stdout");
		break;
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->filter;
		break;
	case 'b':
		o->ringbuf_bytes = parse_ringbuf_size(arg);
		break;
	case OPT_MAX_CONNS:
		o->max_conns = parse_max_conns(arg);
		break;
	case 'd':
		if (!parse_ulong(arg, 1, 31536000, &v))
			usage_error("invalid duration '%s': seconds, 1 to 31536000", arg);
		o->duration_s = v;
		break;
	default:
		return common_parse(key, arg, state);
	}
	return 0;
}

void parse_watch_args(int argc, char **argv, struct watch_opts *opts)
{
	static const struct argp_child children[] = { { &conn_filter_argp, 0, NULL, 0 }, {} };
	static const struct argp argp = {
		.options = watch_options,
		.parser = watch_parse,
		.doc = watch_doc,
		.children = children,
	};

	parse_command(&argp, "tcpkawatch", argc, argv, opts);
}

error_t common_parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'v':
		libbpf_messages(true);
		return 0;
	case 'h':
		argp_help(state->root_argp, stdout, ARGP_HELP_STD_HELP, state->name);
		exit(0);
	case 'V':
		printf("%s\n", argp_program_version);
		exit(0);
	case ARGP_KEY_ERROR:
		/* ARGP_NO_ERRS silences getopt's two-line complaint (and,
		 * with it, argp's own --help: see 'h') */
		usage_error("unknown option or missing value: '%s'", state->argv[state->next - 1]);
	case ARGP_KEY_ARG:
		usage_error("unexpected argument '%s'", arg);
	}
	return ARGP_ERR_UNKNOWN;
}

void parse_command(const struct argp *argp, const char *name, int argc, char **argv, void *input)
{
	argv[0] = (char *)name;	/* for --help */
	argp_parse(argp, argc, argv, ARGP_NO_ERRS | ARGP_NO_HELP, NULL, input);
}

static const struct argp_option conn_filter_options[] = {
	{ "pid", 'p', "PID", 0, "Only sockets owned by process PID", 0 },
	{ "port", 'P', "PORT", 0, "Only connections with local or remote PORT", 0 },
	{ "netns", 'N', "INODE", 0, "Only network namespace INODE", 0 },
	{ "ipv4", '4', NULL, 0, "Only IPv4", 0 },
	{ "ipv6", '6', NULL, 0, "Only IPv6", 0 },
	{},
};

static error_t conn_filter_parse(int key, char *arg, struct argp_state *state)
{
	struct conn_filter *f = state->input;
	unsigned long v;

	switch (key) {
	case 'p':
		if (!parse_ulong(arg, 1, 4194304, &v))
			usage_error("invalid pid '%s'", arg);
		f->pid = v;
		break;
	case 'P':
		if (!parse_ulong(arg, 1, 65535, &v))
			usage_error("invalid port '%s': 1 to 65535", arg);
		f->port = v;
		break;
	case 'N':
		if (!parse_ulong(arg, 1, 4294967295UL, &v))
			usage_error("invalid netns inode '%s'", arg);
		f->netns = v;
		break;
	case '4':
	case '6':
		if (f->family)
			usage_error("-4 and -6 exclude each other");
		f->family = key == '4' ? AF_INET : AF_INET6;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp conn_filter_argp = {
	.options = conn_filter_options,
	.parser = conn_filter_parse,
};

bool parse_endpoint(const char *s, size_t len, int *family, void *addr, unsigned int *port)
{
	const char *colon = memrchr(s, ':', len);
	char host[64], num[8];
	unsigned long p;
	size_t hl, pl;

	if (!colon)
		return false;
	hl = colon - s;
	pl = len - hl - 1;
	if (!pl || pl >= sizeof(num) || !hl || hl >= sizeof(host))
		return false;
	memcpy(num, colon + 1, pl);
	num[pl] = '\0';
	if (!parse_ulong(num, 1, 65535, &p))
		return false;
	*port = p;
	if (hl > 2 && s[0] == '[' && s[hl - 1] == ']') {
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		*family = AF_INET6;
		return inet_pton(AF_INET6, host, addr) == 1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	*family = inet_pton(AF_INET, host, addr) == 1 ? AF_INET : AF_INET6;
	return *family == AF_INET || inet_pton(AF_INET6, host, addr) == 1;
}
