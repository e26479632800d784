// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include "decode.h"
#include "records.h"
#include "select.h"
#include "workload.h"

enum { OPT_STATE = 1100, OPT_AT_RISK, OPT_PROBING, OPT_SILENT, OPT_TUPLE, OPT_CONTAINER_ID,
       OPT_POD_UID };

#define MAX_SECONDS 31536000	/* a year */

static const struct argp_option select_options[] = {
	{ "state", OPT_STATE, "STATE", 0, "Only this state (ESTABLISHED, LISTEN, TIME_WAIT, ...)", 0 },
	{ "at-risk", OPT_AT_RISK, "SECONDS", 0,
	  "Only half-open candidates: established, no keepalive, silent for SECONDS", 0 },
	{},
};

static const struct argp_option select_kill_options[] = {
	{ "probing", OPT_PROBING, "N", 0,
	  "Only connections with at least N unanswered keepalive probes out", 0 },
	{ "silent", OPT_SILENT, "SECONDS", 0, "Only connections that received nothing for SECONDS", 0 },
	{ "tuple", OPT_TUPLE, "LADDR:LPORT,RADDR:RPORT", 0,
	  "Only this connection (IPv6 in brackets: [::1]:80); with -N", 0 },
	{ "container-id", OPT_CONTAINER_ID, "ID", 0,
	  "Only connections of this container (64 hex digits)", 0 },
	{ "pod-uid", OPT_POD_UID, "UID", 0, "Only connections of this Kubernetes pod", 0 },
	{},
};

/* one end of t from "ADDR:PORT" or "[ADDR6]:PORT", of t's family if set */
static bool parse_tuple_end(const char *s, size_t len, struct conn_tuple *t, int end)
{
	unsigned int port;
	int family;

	if (!parse_endpoint(s, len, &family, end ? t->daddr : t->saddr, &port) ||
	    (t->family && t->family != family))
		return false;
	t->family = family;
	if (end)
		t->dport = port;
	else
		t->sport = port;
	return true;
}

static error_t select_parse(int key, char *arg, struct argp_state *state)
{
	struct conn_select *s = state->input;
	unsigned long v;
	const char *comma;

	switch (key) {
	case OPT_STATE:
		s->state = tcp_state_by_name(arg);
		if (!s->state)
			usage_error("invalid state '%s': ESTABLISHED, SYN_SENT, LISTEN, TIME_WAIT, ...",
				    arg);
		break;
	case OPT_AT_RISK:
		if (!parse_ulong(arg, 0, MAX_SECONDS, &v))
			usage_error("invalid --at-risk '%s': seconds", arg);
		s->at_risk_s = v;
		break;
	case OPT_PROBING:
		if (!parse_ulong(arg, 1, 255, &v))
			usage_error("invalid --probing '%s': 1 to 255 probes", arg);
		s->probing = v;
		break;
	case OPT_SILENT:
		if (!parse_ulong(arg, 0, MAX_SECONDS, &v))
			usage_error("invalid --silent '%s': seconds", arg);
		s->silent_s = v;
		break;
	case OPT_TUPLE:
		comma = strchr(arg, ',');
		memset(&s->tuple, 0, sizeof(s->tuple));
		if (!comma || !parse_tuple_end(arg, comma - arg, &s->tuple, 0) ||
		    !parse_tuple_end(comma + 1, strlen(comma + 1), &s->tuple, 1))
			usage_error("invalid --tuple '%s': LADDR:LPORT,RADDR:RPORT of one family",
				    arg);
		s->tuple_set = true;
		break;
	case OPT_CONTAINER_ID:
		s->container_id = arg;
		break;
	case OPT_POD_UID:
		s->pod_uid = arg;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp select_argp = { .options = select_options, .parser = select_parse };
const struct argp select_kill_argp = { .options = select_kill_options, .parser = select_parse };

static bool workload_selected(const struct conn_select *s, const struct list_record *r)
{
	struct workload w;
	const struct workload *wl = workload_of(r->cgroup_id, &w);

	return wl && (!s->container_id || !strcmp(wl->container_id, s->container_id)) &&
	       (!s->pod_uid || !strcmp(wl->pod_uid, s->pod_uid));
}

bool conn_selected(const struct conn_select *s, const struct list_record *r)
{
	const struct conn_filter *f = &s->filter;

	if (f->family && r->t.family != f->family)
		return false;
	if (f->port && r->t.sport != f->port && r->t.dport != f->port)
		return false;
	if (s->state && r->state != s->state)
		return false;
	if (s->at_risk_s >= 0 && !(r->state == TCP_ESTABLISHED && r->full && !r->keepalive &&
				   r->silence_ms >= s->at_risk_s * 1000ULL))
		return false;
	if (s->probing >= 0 && !(is_probing(r) && r->probes_out >= s->probing))
		return false;
	if (s->silent_s >= 0 && !(r->full && r->silence_ms >= s->silent_s * 1000ULL))
		return false;
	if (s->tuple_set && memcmp(&r->t, &s->tuple, sizeof(r->t)) != 0)
		return false;
	return (!s->container_id && !s->pod_uid) || workload_selected(s, r);
}

bool conn_select_narrows(const struct conn_select *s)
{
	return s->filter.pid || s->filter.port || s->filter.netns || s->at_risk_s >= 0 ||
	       s->probing >= 0 || s->silent_s >= 0 || s->tuple_set || s->container_id ||
	       s->pod_uid;
}
