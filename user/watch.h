/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WATCH_H
#define WATCH_H
#include <stdbool.h>
#include "args.h"
#include "records.h"

/* Where events go instead of the output (export, top). */
struct watch_sink {
	void (*event)(void *ctx, const struct ka_event *e);
	/* About every 100 ms, with what was lost so far; false ends the run. */
	bool (*tick)(void *ctx, const struct lost_counts *l);
	const char *ready;	/* the line on stderr once attached */
	void *ctx;
};

/* Run the observer until a signal, the duration, or the sink says so;
 * events go to the sink, else to stdout. Returns the exit code. */
int watch(const struct watch_opts *opts, const struct watch_sink *sink);

#endif
