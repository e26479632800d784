/* SPDX-License-Identifier: GPL-2.0 */
/* Owner of a socket the BPF side could not attribute (opened before us). */
#ifndef OWNER_H
#define OWNER_H
#include <stdbool.h>
#include <linux/types.h>
#include "tcpkawatch.h"

/* Sockets and the processes holding them, for many lookups: filled with
 * owner_table_add() (any key that names a socket), then indexed with
 * owner_table_index(). */
struct owner_table;
struct owner_table *owner_table_new(void);
/* 0, or -1 out of memory. */
int owner_table_add(struct owner_table *t, __u64 key, __u32 pid, const char *comm);
/* After the last add, before the first find. 0, or -1 out of memory. */
int owner_table_index(struct owner_table *t);
bool owner_table_find(const struct owner_table *t, __u64 key, __u32 *pid,
		      char comm[TASK_COMM_LEN]);
void owner_table_free(struct owner_table *t);

#endif
