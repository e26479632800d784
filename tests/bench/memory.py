#!/usr/bin/env python3
"""make bench, memory part: what `tcpkawatch` keeps per connection it
tracks. Batches of loopback connections with keepalive (the peer
answers) are held in a namespace of our own while `tcpkawatch --json`
watches it (its events to a file: see ka.FileLines). Each socket then has a kernel record (the conns hash: its
memory as bpftool reports it) and, once a probe of it was reported, a
userspace record (the loader's resident memory, VmRSS). Probes every
IDLE seconds keep the events at 2 x sockets / IDLE a second. The first batch
warms up what does not grow with connections (the ring buffer's pages,
the allocator); the figures are what the second batch added, per socket,
after both nstat and tcpkawatch counted a probe and an answer from each."""
import contextlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import HeldConns, Netns, Watch, vmrss_kib, wait_until  # noqa: E402

CONNS = int(os.environ.get("MEMORY_CONNS", 5000))  # a batch: 2 x CONNS sockets
PROBES = "TcpExtTCPKeepAlive"
IDLE = 2


def hold_batch(ns, batch, watch, held):
    """Opens a batch, waits until every socket of it had a probe answered
    (nstat) and tcpkawatch reported an answer of each."""
    probes_before = ns.nstat(PROBES)[PROBES]
    held.enter_context(HeldConns(ns, CONNS, range(7000 + 10 * batch, 7004 + 10 * batch),
                                 IDLE)).ready()
    sockets = 2 * CONNS * (batch + 1)
    wait_until(lambda: ns.nstat(PROBES)[PROBES] - probes_before >= 2 * CONNS, 60,
               f"{2 * CONNS} keepalive probes (nstat)")
    wait_until(lambda: len({(e["lport"], e["rport"]) for e in watch.events("answered")})
               >= sockets, 60, f"answers of {sockets} sockets reported")


def main():
    # listeners on 7000-7013, clients' ports above them
    with Netns({"net.ipv4.ip_local_port_range": "8000 65000"}) as ns, \
            Watch("-N", ns.inode, events_file=True) as w:
        with contextlib.ExitStack() as held:
            empty = w.bpf_map("conns")["bytes_memlock"]
            slots = w.bpf_map("conns")["max_entries"]
            hold_batch(ns, 0, w, held)
            rss0, kernel0 = 1024 * vmrss_kib(w.proc.pid), w.bpf_map("conns")["bytes_memlock"]
            hold_batch(ns, 1, w, held)
            rss1, kernel1 = 1024 * vmrss_kib(w.proc.pid), w.bpf_map("conns")["bytes_memlock"]
        w.stop()
    sockets = 2 * CONNS
    print(f"memory per tracked socket ({sockets} more sockets, each with a probe answered):")
    print(f"  kernel (conns hash, bpftool bytes_memlock) {(kernel1 - kernel0) / sockets:7.0f} B"
          f"  (empty table of {slots} entries: {empty / 2**20:.1f} MiB, its buckets)")
    print(f"  userspace (tcpkawatch VmRSS)               {(rss1 - rss0) / sockets:7.0f} B")


if __name__ == "__main__":
    main()
