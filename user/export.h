/* SPDX-License-Identifier: GPL-2.0 */
#ifndef EXPORT_H
#define EXPORT_H
#include <linux/types.h>
#include "tcpkawatch.h"

/* `tcpkawatch export ...`: argv[0] is "export". Returns the exit code. */
int export_main(int argc, char **argv);

#endif
