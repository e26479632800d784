/* SPDX-License-Identifier: GPL-2.0 */
#ifndef NETNS_H
#define NETNS_H
#include <stddef.h>
#include <linux/types.h>

/* The namespaces a walk found but could not enter (no CAP_SYS_ADMIN over
 * them, say): how many, and the first one. */
struct netns_skipped {
	unsigned int count;
	char first[64];		/* its path */
	int first_errno;
};

/* Enter every network namespace in use, once each (those of processes and
 * those named in /run/netns; only netns, if not 0), call fn(ctx, inode)
 * inside it, and come back. Only the calling thread moves: any thread may
 * walk. fn returning non-zero stops the walk, negative for an error.
 * Returns the namespaces walked, or -1; those it could not enter are in
 * *skipped. iter/tcp needs this: an iterator walks the namespace its
 * reader was in when it created it (bpf_iter_tcp's seq_net_private). */
int for_each_netns(__u32 netns, int (*fn)(void *ctx, __u32 netns), void *ctx,
		   struct netns_skipped *skipped);
#define NETNS_SKIPPED_TEXT_LEN 192
/* What was skipped, in words, naming the first one. */
void netns_skipped_text(const struct netns_skipped *skipped, char *buf, size_t len);
/* That, as one line on stderr, if the walk skipped namespaces. */
void netns_skipped_warn(const struct netns_skipped *skipped);

#endif
