#!/usr/bin/env python3
"""make bench, list part: about 100,000 idle loopback sockets in one
namespace (held by several processes: 20,000 descriptors each at most);
wall time, median of 5, of `ss -tioen`, `ss -tn`, a bare iter/tcp walk
(24 bytes a socket, whole process with load), the same walk with list's
own BPF program (what list reads of each socket, in the kernel, read and
dropped), that walk again with the program relocated against a minimal
BTF (`bpftool gen min_core_btf`: the types list.bpf.o names, not the
kernel's whole BTF, which libbpf searches once for each of them) and
`tcpkawatch list`."""
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import TCPKAWATCH, HeldConns, Netns, run, wall_time  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCS = int(os.environ.get("LIST_PROCS", 6))
CONNS = int(os.environ.get("LIST_CONNS_PER_PROC", 8000))
RUNS = 5
WALK_LIST = "walk with list's program"
WALK_MIN_BTF = "the same, minimal BTF"


def timed(cmd, ns):
    return statistics.median(wall_time(*cmd, ns=ns) for _ in range(RUNS))


def main():
    # listeners on 7000-7053, clients' ports above them: a holder must not
    # find its listening port taken by another one's client
    with Netns({"net.ipv4.ip_local_port_range": "8000 65000"}) as ns, \
            tempfile.TemporaryDirectory(prefix="tkw-list-") as tmp, \
            contextlib.ExitStack() as stack:
        list_obj = os.path.join(ROOT, "build", "list.bpf.o")
        min_btf = os.path.join(tmp, "list.btf")
        subprocess.run(["bpftool", "gen", "min_core_btf", "/sys/kernel/btf/vmlinux", min_btf,
                        list_obj], check=True, stdout=subprocess.DEVNULL)
        # started together, then waited for: they open their connections at once
        holders = [stack.enter_context(HeldConns(ns, CONNS, range(7000 + 10 * i, 7004 + 10 * i)))
                   for i in range(PROCS)]
        for h in holders:
            h.ready()
        # bare_walk writes 24 bytes a socket
        count = int(run(os.path.join(ROOT, "build", "bare_iter"),
                        os.path.join(ROOT, "build", "bare_iter.bpf.o"), ns=ns).stdout) // 24
        figures = {
            "ss -tioen": timed(["ss", "-tioen"], ns),
            "ss -tn": timed(["ss", "-tn"], ns),
            "bare iter/tcp walk": timed([os.path.join(ROOT, "build", "bare_iter"),
                                         os.path.join(ROOT, "build", "bare_iter.bpf.o")], ns),
            # list.bpf.o as loaded by list, less the loader's settings (no
            # inode, as for columns; HZ 0: no division)
            WALK_LIST: timed([os.path.join(ROOT, "build", "bare_iter"), list_obj, "ka_list"], ns),
            WALK_MIN_BTF: timed([os.path.join(ROOT, "build", "bare_iter"), list_obj, "ka_list",
                                 min_btf], ns),
            "tcpkawatch list": timed([TCPKAWATCH, "list", "-N", str(ns.inode)], ns),
            "tcpkawatch list --json": timed([TCPKAWATCH, "list", "--json", "-N",
                                             str(ns.inode)], ns),
        }
    print(f"list over {count} TCP sockets in one namespace, wall time, median of {RUNS}:")
    for name, t in figures.items():
        print(f"  {name:24s} {t:7.3f} s")
    ours, bare = figures["tcpkawatch list"], figures["bare iter/tcp walk"]
    print(f"  tcpkawatch list: {figures['ss -tioen'] / ours:.1f}x faster than ss -tioen "
          f"(goal 20x), {ours / bare:.2f}x the bare walk (goal 1.5x); the walk with list's "
          f"program alone {figures[WALK_LIST] / bare:.2f}x, {figures[WALK_MIN_BTF] / bare:.2f}x "
          f"relocated against a minimal BTF")


if __name__ == "__main__":
    main()
