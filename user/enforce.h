/* SPDX-License-Identifier: GPL-2.0 */
#ifndef ENFORCE_H
#define ENFORCE_H

/* `tcpkawatch enforce ...`: argv[0] is "enforce". Returns the exit code. */
int enforce_main(int argc, char **argv);

#endif
