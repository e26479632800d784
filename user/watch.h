/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WATCH_H
#define WATCH_H
#include "args.h"
#include "export.h"

/* Run the observer until a signal or the duration. With ex, events feed
 * the exporter (serving at listen) instead of the output. Returns the
 * exit code. */
int watch(const struct watch_opts *opts, struct exporter *ex, const char *listen);

#endif
