/* SPDX-License-Identifier: GPL-2.0 */
#ifndef TOP_H
#define TOP_H

/* `tcpkawatch top`: argv[0] is "top". Returns the exit code. */
int top_main(int argc, char **argv);

#endif
