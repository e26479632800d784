// SPDX-License-Identifier: GPL-2.0
/*
 * owners: the owner pass (ka_owners.bpf.h) in an object of its own, for
 * list, kill and top, which load it beside list.bpf.o on another thread
 * and have the owners by the time their walk begins.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "tcpkawatch.h"
#include "ka_owners.bpf.h"

char LICENSE[] SEC("license") = "GPL";
