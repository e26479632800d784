// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "bpf_log.h"
#include "bpf_read.h"
#include "kill.skel.h"
#include "sock_destroy.h"

/* sockets destroyed by one pass of the iterator, at most */
#define KILL_BATCH 4096

struct sock_killer {
	struct kill_bpf *skel;	/* NULL: inet_diag */
	struct bpf_link *iter;
};

/* The kernel's BTF names the kfunc (Linux 6.5): decided by what the
 * kernel has, not its version. */
static bool kernel_has_sock_destroy_kfunc(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has = btf && btf__find_by_name_kind(btf, "bpf_sock_destroy", BTF_KIND_FUNC) >= 0;

	btf__free(btf);
	return has;
}

struct sock_killer *sock_killer_open(void)
{
	struct sock_killer *k = calloc(1, sizeof(*k));
	int err;

	if (!k || !kernel_has_sock_destroy_kfunc())
		return k;
	k->skel = kill_bpf__open();
	if (!k->skel) {
		fprintf(stderr, "tcpkawatch: cannot open the BPF object: %s\n", strerror(errno));
		goto fail;
	}
	bpf_map__set_max_entries(k->skel->maps.doomed, KILL_BATCH);
	libbpf_load_begin();
	err = kill_bpf__load(k->skel);
	if (err) {
		report_load_error("the socket-destroying iterator", err, NULL);
		goto fail;
	}
	k->iter = bpf_program__attach_iter(k->skel->progs.ka_kill, NULL);
	if (!k->iter) {
		fprintf(stderr, "tcpkawatch: cannot create the TCP socket iterator: %s\n",
			strerror(errno));
		goto fail;
	}
	return k;
fail:
	sock_killer_close(k);
	return NULL;
}

const char *sock_killer_how(const struct sock_killer *k)
{
	return k->skel ? "bpf_sock_destroy" : "inet_diag";
}

/* One pass of the iterator over this namespace for up to KILL_BATCH rows */
static void destroy_batch(struct sock_killer *k, const struct list_record *rows, size_t n,
			  int *errs)
{
	int fd = bpf_map__fd(k->skel->maps.doomed);
	struct kill_slot slot;
	size_t i;

	for (i = 0; i < n; i++) {
		slot = (struct kill_slot){ .t = rows[i].t };
		errs[i] = bpf_map_update_elem(fd, &rows[i].sk, &slot, BPF_ANY) ? errno : 0;
	}
	if (iter_read(bpf_link__fd(k->iter), 1, NULL, NULL)) {
		int err = errno;

		for (i = 0; i < n; i++)
			errs[i] = errs[i] ? errs[i] : err;
	}
	for (i = 0; i < n; i++) {
		if (errs[i])
			continue;
		if (bpf_map_lookup_elem(fd, &rows[i].sk, &slot))
			errs[i] = errno;
		else if (!slot.done)
			errs[i] = ENOENT;	/* not in the namespace any more */
		else
			errs[i] = -slot.err;
		bpf_map_delete_elem(fd, &rows[i].sk);
	}
}

/* inet_diag's answer to one request: 0 or the errno of its NLMSG_ERROR */
static int diag_destroy(struct mnl_socket *nl, const struct list_record *r, unsigned int seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	ssize_t len;

	nlh->nlmsg_type = SOCK_DESTROY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = r->t.family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0U;
	req->id.idiag_sport = htons(r->t.sport);
	req->id.idiag_dport = htons(r->t.dport);
	memcpy(req->id.idiag_src, r->t.saddr, r->t.family == AF_INET ? 4 : 16);
	memcpy(req->id.idiag_dst, r->t.daddr, r->t.family == AF_INET ? 4 : 16);
	req->id.idiag_cookie[0] = req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return errno;
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len < 0)
		return errno;
	/* the ack: MNL_CB_ERROR with errno set from the NLMSG_ERROR */
	return mnl_cb_run(buf, len, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0 ? errno : 0;
}

void sock_killer_run(struct sock_killer *k, const struct list_record *rows, size_t n, int *errs)
{
	struct mnl_socket *nl;
	int open_err;
	size_t i;

	if (k->skel) {
		for (i = 0; i < n; i += KILL_BATCH)
			destroy_batch(k, rows + i, n - i < KILL_BATCH ? n - i : KILL_BATCH, errs + i);
		return;
	}
	/* the netlink socket is of the namespace it is made in: this one */
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		int err = errno;

		mnl_socket_close(nl);
		nl = NULL;
		errno = err;
	}
	open_err = errno;
	for (i = 0; i < n; i++)
		errs[i] = nl ? diag_destroy(nl, &rows[i], i + 1) : open_err;
	if (nl)
		mnl_socket_close(nl);
}

void sock_killer_close(struct sock_killer *k)
{
	if (!k)
		return;
	bpf_link__destroy(k->iter);
	kill_bpf__destroy(k->skel);
	free(k);
}
