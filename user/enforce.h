/* SPDX-License-Identifier: GPL-2.0 */
#ifndef ENFORCE_H
#define ENFORCE_H

#include <stdbool.h>
#include "tcpkawatch.h"

/* `tcpkawatch enforce ...`: argv[0] is "enforce". Returns the exit code. */
int enforce_main(int argc, char **argv);

/* Attach the policy's sockops program to cgroup (NULL: the cgroup v2
 * root), filling in p->cgroup and p->since; with existing, also load the
 * iterator that enforce_existing() runs. The caller checked the
 * privileges (PRIV_OBSERVE, PRIV_NET_ADMIN). NULL, with one line on
 * stderr, on failure. */
struct enforce_session *enforce_attach(struct enforce_policy *p, const char *cgroup,
				       bool existing);
/* Detach and free; with report, say on stderr what it did. */
void enforce_detach(struct enforce_session *s, bool report);

#endif
