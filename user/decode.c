// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "decode.h"
#include "text.h"

const char *event_name(int type)
{
	switch (type) {
	case EV_PROBE: return "probe";
	case EV_ANSWERED: return "answered";
	case EV_DEATH: return "death";
	case EV_CLOSE: return "close";
	}
	return "unknown";
}

static const char *const cause_names[CAUSE_MAX] = {
	[CAUSE_NONE] = "none",
	[CAUSE_KEEPALIVE] = "keepalive",
	[CAUSE_USER_TIMEOUT] = "user_timeout",
	[CAUSE_RETRANSMIT] = "retransmit",
	[CAUSE_ZERO_WINDOW] = "zero_window",
	[CAUSE_SYN_TIMEOUT] = "syn_timeout",
	[CAUSE_RESET] = "reset",
	[CAUSE_UNREACHABLE] = "unreachable",
	[CAUSE_LOCAL_ABORT] = "local_abort",
};

const char *cause_name(int cause)
{
	return cause >= 0 && cause < CAUSE_MAX ? cause_names[cause] : "unknown";
}

/* include/net/tcp_states.h */
static const char *const tcp_state_names[] = {
	[1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV",
	[4] = "FIN_WAIT1", [5] = "FIN_WAIT2", [6] = "TIME_WAIT",
	[7] = "CLOSE", [8] = "CLOSE_WAIT", [9] = "LAST_ACK",
	[10] = "LISTEN", [11] = "CLOSING", [12] = "NEW_SYN_RECV",
	[13] = "BOUND_INACTIVE",
};

const char *tcp_state_name(int state)
{
	if (state > 0 && state < (int)(sizeof(tcp_state_names) / sizeof(tcp_state_names[0])))
		return tcp_state_names[state];
	return "UNKNOWN";
}

const char *ka_source_name(int src)
{
	switch (src) {
	case KA_SRC_NONE: return "none";
	case KA_SRC_APP: return "app";
	case KA_SRC_ENFORCED: return "enforced";
	}
	return "unknown";
}

int tcp_state_by_name(const char *name)
{
	for (int s = 1; s < (int)(sizeof(tcp_state_names) / sizeof(tcp_state_names[0])); s++)
		if (!strcasecmp(name, tcp_state_names[s]))
			return s;
	return 0;
}

const char *errno_name(int err)
{
	const char *name = err ? strerrorname_np(err) : NULL;

	return name ? name : (err ? "EUNKNOWN" : "0");
}

char *format_ip(char *p, const struct conn_tuple *t, int remote)
{
	const __u8 *addr = remote ? t->daddr : t->saddr;

	if (t->family != AF_INET) {
		if (!inet_ntop(AF_INET6, addr, p, INET6_ADDRSTRLEN))
			strcpy(p, "?");
		return p + strlen(p);
	}
	/* inet_ntop() goes through sprintf(): slow for a line per socket */
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = text_u64(p, addr[i]);
	}
	*p = '\0';
	return p;
}

char *format_endpoint(char *p, const struct conn_tuple *t, int remote)
{
	if (t->family != AF_INET)
		*p++ = '[';
	p = format_ip(p, t, remote);
	if (t->family != AF_INET)
		*p++ = ']';
	*p++ = ':';
	p = text_u64(p, remote ? t->dport : t->sport);
	*p = '\0';
	return p;
}
