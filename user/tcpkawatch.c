// SPDX-License-Identifier: GPL-2.0
/* tcpkawatch: TCP keepalive probes and connection deaths, system-wide.
 * watch (the default), enforce, list, export and top. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "args.h"
#include "enforce.h"
#include "export.h"
#include "list.h"
#include "top.h"
#include "watch.h"

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG || !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv)
{
	struct watch_opts opts = {};

	libbpf_set_print(libbpf_print);	/* quiet unless watch -v */
	if (argc > 1 && !strcmp(argv[1], "enforce"))
		return enforce_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "list"))
		return list_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "export"))
		return export_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "top"))
		return top_main(argc - 1, argv + 1);
	parse_watch_args(argc, argv, &opts);
	verbose = opts.verbose;
	return watch(&opts, NULL);
}
