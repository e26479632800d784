/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KILL_H
#define KILL_H

/* `tcpkawatch kill ...`: argv[0] is "kill". Returns the exit code. */
int kill_main(int argc, char **argv);

#endif
