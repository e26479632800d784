#!/usr/bin/env python3
"""make bench, scale part: a million established loopback connections
(two million sockets) in a namespace of our own, watched by `tcpkawatch
--json` from before the first opens. A process here may hold 20,000
descriptors, so HOLDERS processes hold CONNS connections each (both ends),
every one on four listening ports of its own (a client address has about
55,000 ephemeral ports per destination). Shows:
- that watch tracked every socket: its connection table (the kernel's
  conns hash) holds all 2 x N, and nothing was counted untracked or lost;
- kernel memory per tracked socket (the hash, bpftool bytes_memlock) and
  the loader's resident memory;
- the wall time of `tcpkawatch list` and of `ss -tioen` over all of them;
- a probe storm: STORM_HOLDERS of the holders turn keepalive on for all
  their sockets at the same moment (SIGUSR1; first probe IDLE s later):
  the probes tcpkawatch reported plus those it reported lost equal the
  kernel's TcpExtTCPKeepAlive of the namespace.
The machine's own limits: fs.file-max (2 x N descriptors and ours),
memory (the kernel's sockets, about 3.5 KiB each with their files)."""
import contextlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import (TCPKAWATCH, HeldConns, Netns, Watch, check, vmrss_kib, wait_until,  # noqa: E402
                wall_time)

HOLDERS = int(os.environ.get("MILLION_HOLDERS", 125))
CONNS = int(os.environ.get("MILLION_CONNS_PER_HOLDER", 8000))
STORM_HOLDERS = int(os.environ.get("STORM_HOLDERS", 7))  # 7 x 8000 x 2 = 112,000 sockets
IDLE = 10  # seconds from arming to the first probe; the next one an hour later
PROBES = "TcpExtTCPKeepAlive"


def lost_so_far(w):
    """the ring buffer losses watch warned about on stderr so far"""
    warned = [line for line in w.err if "warning: lost so far" in line]
    return int(warned[-1].split("lost so far: ")[1].split()[0]) if warned else 0


def main():
    check(STORM_HOLDERS <= HOLDERS, f"STORM_HOLDERS {STORM_HOLDERS} > MILLION_HOLDERS {HOLDERS}")
    sockets = 2 * HOLDERS * CONNS
    with Netns({"net.ipv4.ip_local_port_range": "10000 65000"}) as ns, \
            Watch("-N", ns.inode, events_file=True) as w, contextlib.ExitStack() as stack:
        table = w.bpf_map("conns")
        start = time.monotonic()
        holders = [stack.enter_context(HeldConns(ns, CONNS, range(7000 + 4 * i, 7004 + 4 * i),
                                                 f"{IDLE},3600", "on-signal"))
                   for i in range(HOLDERS)]
        for h in holders:
            h.ready(timeout=600)
        opened_s = time.monotonic() - start
        established = int(subprocess.run(
            ["ip", "netns", "exec", ns.name, "sh", "-c", "ss -Htn state established | wc -l"],
            capture_output=True, text=True, check=True, timeout=300).stdout)
        check(established == sockets, f"{established} sockets established, want {sockets}")
        held = w.bpf_map("conns")
        kernel_per_socket = (held["bytes_memlock"] - table["bytes_memlock"]) / sockets
        rss = vmrss_kib(w.proc.pid)
        # ss -tioen over two million sockets takes minutes
        list_s = wall_time(TCPKAWATCH, "list", "-N", str(ns.inode), ns=ns, timeout=900)
        ss_s = wall_time("ss", "-tioen", ns=ns, timeout=900)

        before = ns.nstat(PROBES)[PROBES]
        storm = holders[:STORM_HOLDERS]
        for h in storm:
            h.proc.send_signal(signal.SIGUSR1)
        for h in storm:
            h.ready(timeout=60, word="armed")
        want = 2 * STORM_HOLDERS * CONNS
        wait_until(lambda: ns.nstat(PROBES)[PROBES] - before >= want, 120,
                   f"{want} first probes (nstat)")
        sent = ns.nstat(PROBES)[PROBES] - before
        wait_until(lambda: len(w.events("probe")) >= sent - lost_so_far(w), 60,
                   "the storm's probes read by the test")
        rss_storm = vmrss_kib(w.proc.pid)
        # stopped before the holders close their sockets: their closes
        # would add records (and losses) that are not probes
        check(w.stop(allow_loss=True) == 0, "watch's exit code")
        probes = len(w.events("probe"))
        lost = (w.events("lost") or [{}])[0]
    check(not lost.get("untracked_connections") and not lost.get("hook_misses"),
          f"lost {lost}")
    ringbuf_lost = lost.get("ringbuf_lost", 0)
    check(probes + ringbuf_lost == sent,
          f"probe storm: nstat {sent}, reported {probes} + lost {ringbuf_lost}")
    print(f"a million connections: {HOLDERS} processes x {CONNS} loopback connections, "
          f"{sockets} sockets established (ss), opened in {opened_s:.1f} s under watch")
    print(f"  watch's table: {table['max_entries']} entries ({table['bytes_memlock'] / 2**20:.0f} "
          f"MiB of buckets); every socket tracked, none untracked, none lost")
    print(f"  kernel memory per tracked socket (conns hash)  {kernel_per_socket:6.0f} B")
    print(f"  loader (tcpkawatch VmRSS) holding them          {rss / 1024:6.1f} MiB; "
          f"{(rss_storm - rss) * 1024 / max(probes, 1):.0f} B more per socket with a probe reported")
    print(f"  tcpkawatch list over them  {list_s:6.1f} s")
    print(f"  ss -tioen over them        {ss_s:6.1f} s  ({ss_s / list_s:.1f}x list)")
    print(f"  probe storm: {want} keepalive timers armed at once, first probes {IDLE} s later: "
          f"nstat {sent} = {probes} reported + {ringbuf_lost} lost (ring buffer full), exact")


if __name__ == "__main__":
    main()
