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

/* The address alone ("127.0.0.1", "::1") of one end of the tuple, written
 * at p with a '\0' (ADDR_STR_LEN bytes at most); returns the '\0'. */
char *format_ip(char *p, const struct conn_tuple *t, int remote);
/* The same for "127.0.0.1:80" or "[::1]:80" */
char *format_endpoint(char *p, const struct conn_tuple *t, int remote);

#endif
