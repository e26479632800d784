#!/usr/bin/env python3
"""make bench, memory part: what `tcpkawatch` keeps per connection it
tracks. Batches of loopback connections with keepalive (the peer answers) are held in a namespace of our own while `tcpkawatch --json`
watches it. Each socket then has a kernel record (the conns hash: its
memory as bpftool reports it) and, once a probe of it was reported, a
userspace record (the loader's resident memory, VmRSS). Probes every
IDLE seconds keep the events at 2 x sockets / IDLE a second. The first batch
warms up what does not grow with connections (the ring buffer's pages,
the allocator); the figures are what the second batch added, per socket,
after both nstat and tcpkawatch counted a probe and an answer from each."""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import TCPKAWATCH, Netns, run, wait_until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNS = int(os.environ.get("MEMORY_CONNS", 5000))  # a batch: 2 x CONNS sockets
PROBES = "TcpExtTCPKeepAlive"
IDLE = 2


def vmrss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for {pid}")


def conns_map_bytes(pid):
    """The memory of the conns map the tcpkawatch process pid holds."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            ids |= {int(line.split()[1]) for line in f if line.startswith("map_id:")}
    maps = [m for m in json.loads(run("bpftool", "map", "show", "--json").stdout)
            if m["id"] in ids and m.get("name") == "conns"]
    if len(maps) != 1:
        raise SystemExit(f"conns map of {pid}: {maps}")
    return maps[0]["bytes_memlock"]


class Watcher:
    """tcpkawatch --json on one namespace, its events in a file (a pipe to
    this script would be the slower reader and overflow its ring buffer)."""

    def __init__(self, ns):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "events.json")
        with open(self.path, "a") as out:  # its own file offset, not ours
            self.proc = subprocess.Popen([TCPKAWATCH, "--json", "-N", str(ns.inode)],
                                         stdout=out, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stderr], [], [], 20)
        if not ready or "Ctrl-C to end." not in self.proc.stderr.readline():
            self.proc.kill()
            raise SystemExit("tcpkawatch did not attach")

    def events(self):
        """The complete lines written so far."""
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def sockets_reported(self, kind):
        """Sockets with at least one event of that kind so far."""
        return len({(e["lport"], e["rport"]) for e in self.events() if e.get("event") == kind})

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=15)
        lost = [e for e in self.events() if e.get("event") == "lost"]
        self.dir.cleanup()
        if lost:
            raise SystemExit(f"tcpkawatch lost events: {lost}")


def hold_batch(ns, batch, watch, holders):
    """Opens a batch, waits until every socket of it had a probe answered
    (nstat) and tcpkawatch reported an answer of each."""
    probes_before = ns.nstat(PROBES)[PROBES]
    ports = ",".join(str(7000 + 10 * batch + k) for k in range(4))
    h = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3",
                          os.path.join(ROOT, "tests", "e2e", "hold_conns.py"),
                          str(CONNS), ports, str(IDLE)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holders.append(h)
    if h.stdout.readline().strip() != "ready":
        raise SystemExit("the holder failed")
    sockets = 2 * CONNS * (batch + 1)
    wait_until(lambda: ns.nstat(PROBES)[PROBES] - probes_before >= 2 * CONNS, 60,
               f"{2 * CONNS} keepalive probes (nstat)")
    wait_until(lambda: watch.sockets_reported("answered") >= sockets, 60,
               f"answers of {sockets} sockets reported")


def main():
    holders = []
    # listeners on 7000-7013, clients' ports above them
    with Netns({"net.ipv4.ip_local_port_range": "8000 65000"}) as ns:
        w = Watcher(ns)
        pid = w.proc.pid
        try:
            empty = conns_map_bytes(pid)
            hold_batch(ns, 0, w, holders)
            rss0, kernel0 = vmrss_bytes(pid), conns_map_bytes(pid)
            hold_batch(ns, 1, w, holders)
            rss1, kernel1 = vmrss_bytes(pid), conns_map_bytes(pid)
        finally:
            for h in holders:
                h.kill()
                h.wait()
            if w.proc.poll() is None:
                w.stop()
    sockets = 2 * CONNS
    print(f"memory per tracked socket ({sockets} more sockets, each with a probe answered):")
    print(f"  kernel (conns hash, bpftool bytes_memlock) {(kernel1 - kernel0) / sockets:7.0f} B"
          f"  (empty table: {empty / 2**20:.1f} MiB, its buckets)")
    print(f"  userspace (tcpkawatch VmRSS)               {(rss1 - rss0) / sockets:7.0f} B")


if __name__ == "__main__":
    main()
