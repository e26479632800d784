/* SPDX-License-Identifier: GPL-2.0 */
/* Arrays that grow by doubling. */
#ifndef ARRAY_H
#define ARRAY_H
#include <stdlib.h>

/* Room for element n of *arr (n <= *cap): doubles *cap, starting at first,
 * when it is full. 0, or -1 out of memory (the array is kept). */
static inline int array_reserve(void **arr, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t bigger;
	void *p;

	if (n < *cap)
		return 0;
	bigger = *cap ? *cap * 2 : first;
	p = realloc(*arr, bigger * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = bigger;
	return 0;
}

#define ARRAY_RESERVE(arr, cap, n, first) \
	array_reserve((void **)&(arr), &(cap), (n), sizeof(*(arr)), (first))

#endif
