// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "kernel.h"

int check_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "tcpkawatch: must run as root (it loads BPF programs)\n");
		return -1;
	}
	return 0;
}

int check_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "tcpkawatch: kernel has no BTF (/sys/kernel/btf/vmlinux: %s); "
			"needs CONFIG_DEBUG_INFO_BTF=y\n", strerror(errno));
		return -1;
	}
	return 0;
}

int check_kernel_support(void)
{
	if (check_root() || check_btf())
		return -1;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		fprintf(stderr, "tcpkawatch: kernel lacks BPF ring buffers (Linux 5.8 or later)\n");
		return -1;
	}
	return 0;
}
