/* SPDX-License-Identifier: GPL-2.0 */
#ifndef ARGS_H
#define ARGS_H
#include <stdbool.h>
#include <linux/types.h>

#define TCPKAWATCH_VERSION "0.1"

struct watch_opts {
	bool json;
	bool verbose;
	long duration_s;	/* 0: until Ctrl-C or SIGTERM */
	__u32 pid;		/* 0: any */
	__u16 port;		/* 0: any */
	__u32 netns;		/* 0: any */
	__u16 family;		/* 0: any, else AF_INET or AF_INET6 */
	const char *stats_file;	/* NULL: none */
	__u32 enforce_idle;	/* --enforce; 0: not asked */
	__u32 enforce_intvl;
	__u32 enforce_cnt;
};

/* Parse watch's options; on bad input prints one line and exits 2. */
void parse_watch_args(int argc, char **argv, struct watch_opts *opts);

/* Print "tcpkawatch: <message> (see --help)" and exit 2. */
void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A keepalive setting in [1, max]; bad input: usage_error(). */
unsigned int parse_ka_value(const char *s, const char *what, unsigned long max);

/* Parse a whole decimal number in [min, max]; false on anything else. */
bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
