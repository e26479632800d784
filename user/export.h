/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EXPORT_H
#define EXPORT_H
#include <linux/types.h>
#include "tcpkawatch.h"

/* What the observer lost (see watch). */
struct export_losses {
	__u64 ringbuf, table_full, hook_misses;
};

struct exporter;

/* Listen on "ADDR:PORT"; NULL with one line on stderr on failure. */
struct exporter *exporter_open(const char *listen_addr, unsigned int per_conn_max);
/* Count one event of the observer. */
void exporter_count(struct exporter *ex, const struct ka_event *e);
/* Answer the scrapes waiting, without blocking for new ones. */
void exporter_serve(struct exporter *ex, const struct export_losses *l);
void exporter_close(struct exporter *ex);

/* `tcpkawatch export ...`: argv[0] is "export". Returns the exit code. */
int export_main(int argc, char **argv);

#endif
