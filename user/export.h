/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EXPORT_H
#define EXPORT_H
#include <linux/types.h>
#include "tcpkawatch.h"

/* What the observer lost (see watch). */
struct export_losses {
	__u64 ringbuf, table_full, hook_misses;
};

/* `tcpkawatch export ...`: argv[0] is "export". Returns the exit code. */
int export_main(int argc, char **argv);

#endif
