/* SPDX-License-Identifier: GPL-2.0 */
/* What the search trees of <search.h> (tsearch()) lack. */
#ifndef TREE_H
#define TREE_H
#include <stdbool.h>
#include <stddef.h>

/* Delete from *tree every element that drop(elem, ctx) is true of, and
 * free each with free_elem: collected first, as tdelete() must not run
 * inside twalk_r(). Returns how many; 0 when out of memory (nothing
 * deleted: the next call tries again). */
size_t tree_prune(void **tree, int (*cmp)(const void *, const void *),
		bool (*drop)(const void *elem, void *ctx), void *ctx, void (*free_elem)(void *));

#endif
