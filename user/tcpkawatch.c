// SPDX-License-Identifier: GPL-2.0
/* tcpkawatch: TCP keepalive probes and connection deaths, system-wide.
 * watch (the default), enforce, list, export, top and kill. */
#include <string.h>
#include "args.h"
#include "bpf_log.h"
#include "enforce.h"
#include "export.h"
#include "kill.h"
#include "list.h"
#include "top.h"
#include "watch.h"

int main(int argc, char **argv)
{
	struct watch_opts opts = {};

	libbpf_messages(false);	/* -v of any command shows them */
	if (argc > 1 && !strcmp(argv[1], "enforce"))
		return enforce_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "list"))
		return list_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "export"))
		return export_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "kill"))
		return kill_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "top"))
		return top_main(argc - 1, argv + 1);
	parse_watch_args(argc, argv, &opts);
	return watch(&opts, NULL);
}
