// SPDX-License-Identifier: GPL-2.0
/* libbpf's messages, kept for a one-line reason when a load fails. libbpf
 * takes one print callback for the whole process: the state is its. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bpf_log.h"

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

	if (level == LIBBPF_DEBUG)
		return 0;
	/* whole, however long: a verifier log ends with its reason */
	if (vasprintf(&msg, fmt, args) < 0)
		return 0;
	if (libbpf_verbose)
		fputs(msg, stderr);
	if (level == LIBBPF_WARN) {
		const char *text;

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
