/* SPDX-License-Identifier: GPL-2.0 */
#ifndef ARGS_H
#define ARGS_H
#include <argp.h>
#include <stdbool.h>
#include <linux/types.h>

#define TCPKAWATCH_VERSION "0.2"

/* -p, -P, -N, -4, -6: which connections (watch and list); 0: any */
struct conn_filter {
	__u32 pid;
	__u16 port;
	__u32 netns;
	__u16 family;		/* AF_INET or AF_INET6 */
};

/* An argp child parsing them; its input is a struct conn_filter. */
extern const struct argp conn_filter_argp;

struct watch_opts {
	bool json;
	long duration_s;	/* 0: until Ctrl-C or SIGTERM */
	struct conn_filter filter;
	const char *stats_file;	/* NULL: none */
	__u32 enforce_idle;	/* --enforce; 0: not asked */
	__u32 enforce_intvl;
	__u32 enforce_cnt;
	__u32 ringbuf_bytes;	/* the events ring buffer; 0: RINGBUF_DEFAULT */
	__u32 max_conns;	/* the kernel's connection table; 0: tcp_sockets_max() */
};

#define RINGBUF_DEFAULT (4U << 20)

/* Parse watch's options; on bad input prints one line and exits 2. */
void parse_watch_args(int argc, char **argv, struct watch_opts *opts);

/* Parse a command's options (name: "tcpkawatch list", for --help) with
 * one-line errors; the command's parser ends in common_parse(). */
void parse_command(const struct argp *argp, const char *name, int argc, char **argv, void *input);
/* -v, -h, unknown options and stray arguments, the same for every command. */
error_t common_parse(int key, char *arg, struct argp_state *state);
#define COMMON_OPTIONS \
	{ "verbose", 'v', NULL, 0, "Show libbpf's messages (why the kernel refused a program)", -1 }, \
	{ "help", 'h', NULL, 0, "Show this help", -1 }, \
	{ "version", 'V', NULL, 0, "Show the version", -1 }

/* Print "tcpkawatch: <message> (see --help)" and exit 2. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A keepalive setting in [1, max]; bad input: usage_error(). */
unsigned int parse_ka_value(const char *s, const char *what, unsigned long max);

/* "ADDR:PORT" or "[ADDR6]:PORT" (the first len bytes of s): its family
 * (AF_INET, AF_INET6), address (4 or 16 bytes at addr) and port (1-65535);
 * false if it is not one. */
bool parse_endpoint(const char *s, size_t len, int *family, void *addr, unsigned int *port);

/* Parse a whole decimal number in [min, max]; false on anything else. */
bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* --max-connections N (watch and export); bad input: usage_error(). */
#define MAX_CONNS_OPTION \
	{ "max-connections", OPT_MAX_CONNS, "N", 0, \
	  "Connections the kernel side tracks at once (default: as many TCP sockets as " \
	  "this system can hold). Its buckets take 16 bytes a slot up front, each " \
	  "connection held about 104 more; those over it are counted as untracked", 0 }
#define OPT_MAX_CONNS 2000
__u32 parse_max_conns(const char *arg);

#endif
