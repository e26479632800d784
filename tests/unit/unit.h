/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal unit-test harness: CHECK() counts, unit_done() prints the
 * closing line "NAME: N passed, N failed" and gives the exit code. */
#ifndef UNIT_H
#define UNIT_H
#include <stdio.h>

static int unit_passed, unit_failed;

/* Counts cond (evaluated once) and says where it failed; returns it. */
#define CHECK(cond) unit_check(!!(cond), __FILE__, __LINE__, #cond)

/* CHECK, and stop the test program here if it failed (a NULL that the
 * next checks would dereference). */
#define REQUIRE(cond) do {						\
	if (!CHECK(cond))						\
		return unit_done(__FILE__);				\
} while (0)

static inline int unit_check(int ok, const char *file, int line, const char *text)
{
	if (ok) {
		unit_passed++;
	} else {
		unit_failed++;
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, text);
	}
	return ok;
}

static inline int unit_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
