/* SPDX-License-Identifier: GPL-2.0 */
/* Destroying TCP sockets of the calling thread's network namespace, as
 * `ss -K` does: the application gets ECONNABORTED, the peer a RST. */
#ifndef SOCK_DESTROY_H
#define SOCK_DESTROY_H
#include <stddef.h>
#include "tcpkawatch.h"

struct sock_killer;

/* bpf_sock_destroy() from an iter/tcp program where the kernel has it
 * (6.5), else inet_diag's SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY); NULL
 * with one line on stderr on failure. */
struct sock_killer *sock_killer_open(void);
/* How it destroys: "bpf_sock_destroy" or "inet_diag" */
const char *sock_killer_how(const struct sock_killer *k);
/* Destroy the full sockets rows[0..n) (list's records of this thread's
 * namespace): errs[i] is 0, or the errno of why not (ENOENT: gone
 * meanwhile; ESTALE: another connection at its address now). */
void sock_killer_run(struct sock_killer *k, const struct list_record *rows, size_t n, int *errs);
void sock_killer_close(struct sock_killer *k);

#endif
