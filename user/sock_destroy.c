// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

	if (!k) {
		fprintf(stderr, "tcpkawatch: out of memory\n");
		return NULL;
	}
	if (!kernel_has_sock_destroy_kfunc())
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
	k->iter = iter_attach(k->skel->progs.ka_kill);
	if (!k->iter)
		goto fail;
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
	int fd = bpf_map__fd(k->skel->maps.doomed), read_err = 0;
	struct kill_slot slot;
	size_t i;

	for (i = 0; i < n; i++) {
		slot = (struct kill_slot){ .t = rows[i].t, .listener = rows[i].state == TCP_LISTEN };
		errs[i] = bpf_map_update_elem(fd, &rows[i].sk, &slot, BPF_ANY) ? errno : 0;
	}
	if (iter_read(bpf_link__fd(k->iter), 1, NULL, NULL))
		read_err = errno;
	for (i = 0; i < n; i++) {
		if (errs[i])
			continue;	/* never in the map */
		/* lookup and delete: a hash map has it since 5.14, the kfunc 6.5 */
		if (bpf_map_lookup_and_delete_elem(fd, &rows[i].sk, &slot))
			errs[i] = errno;
		else if (slot.done)
			errs[i] = -slot.err;
		else	/* not in the namespace any more, or the walk ended early */
			errs[i] = read_err ? read_err : ENOENT;
	}
}

/* One inet_diag request about r's connection, of type (SOCK_DIAG_BY_FAMILY,
 * SOCK_DESTROY), as id says (its tuple, and cookie: NOCOOKIE, any socket
 * at it); the kernel's answer to it in buf. */
static ssize_t diag_request(struct mnl_socket *nl, __u16 type, const struct list_record *r,
			    const struct inet_diag_sockid *id, unsigned int seq, char *buf)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (type == SOCK_DESTROY ? NLM_F_ACK : 0);
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = r->t.family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0U;
	req->id = *id;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	return mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
}

struct diag_found {
	const struct list_record *r;
	struct inet_diag_sockid id;	/* as the kernel says: cookie, device */
	int err;			/* 0: it is r's connection */
};

/* The kernel's socket at r's tuple: the connection itself, or, when it is
 * gone, what inet_lookup() finds in its place (a listener on its port, a
 * TIME_WAIT): not it */
static int diag_found(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct diag_found *f = data;

	bool other_kind = m->idiag_state == TCP_LISTEN || m->idiag_state == TCP_TIME_WAIT ||
			  m->idiag_state == TCP_SYN_RECV;	/* a request sock */

	f->id = m->id;
	f->err = (other_kind && m->idiag_state != f->r->state) ||
		 memcmp(m->id.idiag_dst, f->r->t.daddr, f->r->t.family == AF_INET ? 4 : 16) != 0 ||
		 ntohs(m->id.idiag_dport) != f->r->t.dport ? ESTALE : 0;
	return MNL_CB_OK;
}

/* As `ss -K` does: ask for the socket at r's tuple first, then destroy
 * that one by its cookie (never reused): a connection that ended meanwhile
 * leaves a listener or TIME_WAIT at its tuple, which the first answer
 * tells apart, and nothing else can take the cookie's place. 0, or the
 * errno of why not. */
static int diag_destroy(struct mnl_socket *nl, const struct list_record *r, unsigned int seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct inet_diag_sockid id = {
		.idiag_sport = htons(r->t.sport),
		.idiag_dport = htons(r->t.dport),
		.idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE },
	};
	struct diag_found found = { .r = r, .err = ENOENT };
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t len;

	memcpy(id.idiag_src, r->t.saddr, r->t.family == AF_INET ? 4 : 16);
	memcpy(id.idiag_dst, r->t.daddr, r->t.family == AF_INET ? 4 : 16);
	len = diag_request(nl, SOCK_DIAG_BY_FAMILY, r, &id, 2 * seq, buf);
	if (len < 0 || mnl_cb_run(buf, len, 2 * seq, portid, diag_found, &found) < 0)
		return errno;	/* ENOENT: no socket there any more */
	if (found.err)
		return found.err;
	len = diag_request(nl, SOCK_DESTROY, r, &found.id, 2 * seq + 1, buf);
	/* the ack: MNL_CB_ERROR with errno set from the NLMSG_ERROR */
	if (len < 0 || mnl_cb_run(buf, len, 2 * seq + 1, portid, NULL, NULL) < 0)
		return errno;
	return 0;
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
