// SPDX-License-Identifier: GPL-2.0
#include <search.h>
#include <stdlib.h>
#include "array.h"
#include "tree.h"

struct prune_walk {
	bool (*drop)(const void *elem, void *ctx);
	void *ctx;
	void **gone;
	size_t n, cap;
	bool out_of_memory;
};

/* twalk_r() visits each node once as a leaf or in postorder */
static void collect(const void *node, VISIT v, void *ctx)
{
	struct prune_walk *w = ctx;
	void *elem = *(void *const *)node;

	if ((v != leaf && v != postorder) || !w->drop(elem, w->ctx))
		return;
	if (ARRAY_RESERVE(w->gone, w->cap, w->n, 16))
		w->out_of_memory = true;
	else
		w->gone[w->n++] = elem;
}

size_t tree_prune(void **tree, int (*cmp)(const void *, const void *),
		bool (*drop)(const void *elem, void *ctx), void *ctx, void (*free_elem)(void *))
{
	struct prune_walk w = { .drop = drop, .ctx = ctx };

	twalk_r(*tree, collect, &w);
	if (w.out_of_memory)
		w.n = 0;
	for (size_t i = 0; i < w.n; i++) {
		tdelete(w.gone[i], tree, cmp);
		free_elem(w.gone[i]);
	}
	free(w.gone);
	return w.n;
}
