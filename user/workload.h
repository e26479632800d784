/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who a socket belongs to, as a person or a fleet names it: the cgroup v2
 * it was created in (watch and list read its id in the kernel), and the
 * container and Kubernetes pod that cgroup's path names.
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H
#include <linux/types.h>

#define CONTAINER_ID_LEN 64	/* hex digits, as every runtime writes it */
#define POD_UID_LEN 36		/* 8-4-4-4-12 */
/* Longer cgroup paths are not shown (their ids are): no record grows
 * past RECORD_LINE_LEN. Kubernetes' are about 150 bytes. */
#define WORKLOAD_CGROUP_MAX 1024

struct workload {
	char cgroup[WORKLOAD_CGROUP_MAX];	/* under the cgroup2 mount: "/" or
						 * "/a.slice/b"; "": too long */
	char container_id[CONTAINER_ID_LEN + 1];	/* "": none */
	char pod_uid[POD_UID_LEN + 1];			/* "": none */
};

/* The container id and pod uid a cgroup path names, "" for either not
 * named: the innermost "<runtime>-<64 hex>.scope" (systemd driver:
 * docker-, cri-containerd-, crio-, libpod-, ...) or "<64 hex>" directory
 * (cgroupfs driver), and the "pod<uid>" of a kubepods hierarchy, '_' or
 * '-' separated, written with '-' as Kubernetes writes a uid. */
void workload_parse(struct workload *w, const char *path);

/* The workload of cgroup v2 id in *w (a copy: any thread may ask), or
 * NULL when the id is 0 or its cgroup was gone before it was first seen.
 * An id not known yet costs one walk of the cgroup2 tree, which learns
 * every cgroup there is; a removed cgroup is remembered while it is still
 * asked for. */
const struct workload *workload_of(__u64 cgroup_id, struct workload *w);

#endif
