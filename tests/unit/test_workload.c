// SPDX-License-Identifier: GPL-2.0
/* Container ids and pod uids from the cgroup paths container runtimes and
 * the kubelet's two cgroup drivers make. */
#include <string.h>
#include "unit.h"
#include "workload.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
#define UID_ "6f1c2a3b_4d5e_4f60_8a9b_0c1d2e3f4a5b"

/* path names container id and pod uid ("": none) */
static int names(const char *path, const char *id, const char *uid)
{
	struct workload w;

	workload_parse(&w, path);
	return !strcmp(w.cgroup, path) && !strcmp(w.container_id, id) && !strcmp(w.pod_uid, uid);
}

int main(void)
{
	char longest[WORKLOAD_CGROUP_MAX + 200];
	struct workload w;

	/* kubelet, systemd driver: '-' is the slice separator, the uid has '_' */
	CHECK(names("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		    ".slice/cri-containerd-" ID ".scope", ID, UID));
	CHECK(names("/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope", ID, UID));
	CHECK(names("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		    ".slice/docker-" ID ".scope", ID, UID));
	/* the pod's own slice (the pause container's sockets live below) */
	CHECK(names("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		    ".slice", "", UID));
	/* cgroupfs driver: plain names, the uid as Kubernetes writes it */
	CHECK(names("/kubepods/burstable/pod" UID "/" ID, ID, UID));
	CHECK(names("/kubepods/pod" UID "/" ID, ID, UID));
	/* docker, podman, nested: the innermost container */
	CHECK(names("/system.slice/docker-" ID ".scope", ID, ""));
	CHECK(names("/docker/" ID, ID, ""));
	CHECK(names("/machine.slice/libpod-" ID ".scope/container", ID, ""));
	CHECK(names("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		    ".scope", ID, ""));
	CHECK(names("/docker/" ID "/kubepods/pod" UID "/fedcba9876543210fedcba9876543210fedcba"
		    "9876543210fedcba9876543210", "fedcba9876543210fedcba9876543210fedcba9876543210"
		    "fedcba9876543210", UID));
	/* none */
	CHECK(names("/", "", ""));
	CHECK(names("/system.slice/nginx.service", "", ""));
	CHECK(names("/user.slice/user-1000.slice/session-3.scope", "", ""));
	/* not quite: 63 hex digits, a letter glued to the id, a pod outside
	 * kubepods, a uid with a non-hex digit */
	CHECK(names("/docker/123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		    "", ""));
	CHECK(names("/system.slice/dockerx" ID ".scope", "", ""));
	CHECK(names("/machine.slice/pod" UID, "", ""));
	CHECK(names("/kubepods/pod6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5g", "", ""));
	CHECK(names("/kubepods/xpod" UID, "", ""));
	/* the longest shown, and one byte more */
	memset(longest, 'a', sizeof(longest));
	longest[0] = '/';
	longest[WORKLOAD_CGROUP_MAX - 1] = '\0';
	workload_parse(&w, longest);
	CHECK(strlen(w.cgroup) == WORKLOAD_CGROUP_MAX - 1);
	longest[WORKLOAD_CGROUP_MAX - 1] = 'a';
	longest[WORKLOAD_CGROUP_MAX] = '\0';
	workload_parse(&w, longest);
	CHECK(!w.cgroup[0]);
	strcpy(longest, "/kubepods/pod" UID "/");
	/* too long to show: the ids still come out */
	memset(longest + strlen(longest), 'a', WORKLOAD_CGROUP_MAX);
	strcpy(longest + strlen("/kubepods/pod" UID "/") + WORKLOAD_CGROUP_MAX, "/" ID);
	workload_parse(&w, longest);
	CHECK(!w.cgroup[0] && !strcmp(w.container_id, ID) && !strcmp(w.pod_uid, UID));
	return unit_done("workload");
}
