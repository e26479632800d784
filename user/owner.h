/* SPDX-License-Identifier: GPL-2.0 */
/* Owner of a socket the BPF side could not attribute (opened before us). */
#ifndef OWNER_H
#define OWNER_H
#include <stdbool.h>
#include <linux/types.h>
#include "tcpkawatch.h"

/* Find the process holding socket inode ino by scanning /proc/PID/fd of
 * PIDs under proc_root ("/proc"). */
bool owner_by_inode(const char *proc_root, __u64 ino, __u32 *pid, char comm[TASK_COMM_LEN]);

#endif
