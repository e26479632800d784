/* SPDX-License-Identifier: GPL-2.0 */
/* Turning raw records of the BPF side into names, text and units. */
#ifndef DECODE_H
#define DECODE_H
#include <stddef.h>
#include <linux/types.h>
#include "tcpkawatch.h"

#define ADDR_STR_LEN 48		/* "[ipv6]:port" */

const char *event_name(int type);	/* "probe", "answered", "death", ... */
const char *cause_name(int cause);	/* "keepalive", ... */
const char *tcp_state_name(int state);	/* "ESTABLISHED", ... */
int tcp_state_by_name(const char *name);	/* the reverse, any case; 0 if none */
const char *errno_name(int err);	/* "ETIMEDOUT", ... */
const char *ka_source_name(int src);	/* "app", "enforced", "none" */

/* The address alone ("127.0.0.1", "::1") of one end of the tuple. */
void format_ip(const struct conn_tuple *t, int remote, char *buf, size_t len);
/* "127.0.0.1:80" or "[::1]:80" */
void format_endpoint(const struct conn_tuple *t, int remote, char *buf, size_t len);

#endif
