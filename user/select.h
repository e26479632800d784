/* SPDX-License-Identifier: GPL-2.0 */
/* Which sockets list shows and kill closes: the selectors beyond the
 * connection filter (-p, -P, -N, -4, -6), as options and as a test. */
#ifndef SELECT_H
#define SELECT_H
#include <argp.h>
#include <stdbool.h>
#include "args.h"
#include "tcpkawatch.h"

struct conn_select {
	struct conn_filter filter;	/* its pid: the caller's, with the owners */
	int state;		/* --state; 0: any */
	long at_risk_s;		/* --at-risk; -1: off */
	int probing;		/* --probing: unanswered keepalive probes, at least; -1: off */
	long silent_s;		/* --silent: nothing received for so long; -1: off */
	bool tuple_set;		/* --tuple */
	struct conn_tuple tuple;
	const char *container_id;	/* --container-id; NULL: any */
	const char *pod_uid;		/* --pod-uid; NULL: any */
};

/* No selector yet */
#define CONN_SELECT_INIT { .at_risk_s = -1, .probing = -1, .silent_s = -1 }

/* argp children parsing them (input: a struct conn_select): list's
 * selectors (--state, --at-risk), and kill's (--probing, --silent,
 * --tuple, --container-id, --pod-uid) */
extern const struct argp select_argp;
extern const struct argp select_kill_argp;

/* r passes every selector but the owner's (-p), which needs the owners,
 * and the namespace (-N), which the walk applies. */
bool conn_selected(const struct conn_select *s, const struct list_record *r);

/* Some selector narrows what is picked: -4, -6 and --state alone do not */
bool conn_select_narrows(const struct conn_select *s);

#endif
