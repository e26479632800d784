/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LIST_H
#define LIST_H

/* `tcpkawatch list ...`: argv[0] is "list". Returns the exit code. */
int list_main(int argc, char **argv);

#endif
