#!/usr/bin/env python3
"""make bench, the soak: `tcpkawatch export` and `tcpkawatch --json
--stats-file` side by side for SOAK_S seconds (default 600) while, in a
namespace of our own:
- 100 connections answer keepalive probes (idle and interval 2 s: 50
  probes a second, hold_conns.py);
- every 2 s, 1,000 connections are reset (build/churn --resets: churn and
  reset deaths); every 10 s, 1 s of plain connection churn (build/churn,
  in a second namespace: only load, not checked);
- every 20 s, a pair dies by keepalive behind a blackhole (peer.py);
- /metrics is scraped once a second while 100 idle clients and a slow-loris
  one (a request that never ends) hold connections to the exporter, opened
  again as soon as it drops them.
At the end, once the loads stopped: every probe and death counted by both
against the namespace's own counters (nstat TcpExtTCPKeepAlive,
TcpExtTCPAbortOnTimeout, TcpEstabResets / 2), nothing lost, and the
resident memory of both, sampled every 30 s: its growth after the first
minute is the figure (flat: under 2 MiB), with the slowest scrape."""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import ROOT, HeldConns, Netns, Watch, vmrss_kib, wait_until  # noqa: E402
from resets import LOSSES, cpu_s, unlabelled  # noqa: E402
from test_export import Exporter, free_port, get, sample  # noqa: E402
from test_keepalive import KA, open_pair  # noqa: E402

SOAK_S = int(os.environ.get("SOAK_S", 600))
CHURN = os.path.join(ROOT, "build", "churn")
COUNTERS = ("TcpExtTCPKeepAlive", "TcpExtTCPAbortOnTimeout", "TcpEstabResets",
            "TcpExtTCPAbortOnClose", "TcpExtTCPAbortOnData")
IDLE_CLIENTS = 100


class IdleClients:
    """IDLE_CLIENTS connections that send nothing and one that sends a
    request's first line and never the rest, kept open."""

    def __init__(self, port):
        self.port = port
        self.socks = []

    def connect(self, loris):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        if loris:
            s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        return s

    def keep(self):
        """Open what is missing, again what the server closed."""
        kept = []
        for s in self.socks:
            try:
                if s.recv(4096) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            kept.append(s)
        self.socks = kept
        while len(self.socks) < IDLE_CLIENTS + 1:
            self.socks.append(self.connect(loris=not self.socks))

    def close(self):
        for s in self.socks:
            s.close()


def churn(ns, *args):
    out = subprocess.run(["ip", "netns", "exec", ns.name, CHURN, *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode:
        raise SystemExit(f"churn {args}: {out.stderr}")
    return out.stdout


def main():
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    stats = tempfile.NamedTemporaryFile(prefix="tkw-soak-stats-", suffix=".json")
    rows, slowest, resets_made, pairs = [], 0.0, 0, []
    # plain churn in a namespace of its own: the end of a run can reset a
    # connection or two (a listener closed with connections queued), which
    # would blur the exact count of reset deaths in the checked one
    with Netns() as ns, Netns() as churn_ns, Exporter("--listen", f"127.0.0.1:{port}") as ex, \
            Watch("-N", ns.inode, "--stats-file", stats.name, events_file=True) as w, \
            HeldConns(ns, 100, [7300], 2) as held:
        before = ns.nstat(*COUNTERS)
        held.ready()
        idle = IdleClients(port)
        start = time.monotonic()
        for second in range(SOAK_S):
            t0 = time.monotonic()
            idle.keep()
            get(url)
            slowest = max(slowest, time.monotonic() - t0)
            if second % 2 == 0:
                resets_made += int(churn(ns, "--resets", 1000, 7100))
            if second % 10 == 5:
                churn(churn_ns, 1, 7200)
            if second % 20 == 10:  # a port of its own: the last pair's may linger
                pair_port = 7400 + len(pairs) // 2
                ns.blackhole_after_handshake(pair_port)
                pairs += open_pair(ns, pair_port, server_args=KA, client_args=KA)[:2]
            if second % 30 == 0:
                rows.append((second, vmrss_kib(ex.proc.pid), vmrss_kib(w.proc.pid),
                             cpu_s(ex.proc.pid), cpu_s(w.proc.pid)))
            time.sleep(max(0.0, start + second + 1 - time.monotonic()))
        idle.close()
        held.__exit__()
        for p in pairs:
            p.stop()
        ns.wait_no_connections(60)
        delta = {k: v - before[k] for k, v in ns.nstat(*COUNTERS).items()}
        rows.append((SOAK_S, vmrss_kib(ex.proc.pid), vmrss_kib(w.proc.pid),
                     cpu_s(ex.proc.pid), cpu_s(w.proc.pid)))

        def exported():
            text = get(url)
            return tuple(sample(text, name, netns=ns.inode, **labels) or 0 for name, labels in (
                ("tcpkawatch_keepalive_probes_total", {}),
                ("tcpkawatch_deaths_total", {"cause": "keepalive"}),
                ("tcpkawatch_deaths_total", {"cause": "reset"})))
        # a keepalive death is an abort from ESTABLISHED too (tcp_done()
        # -> tcp_set_state()): TcpEstabResets counts it once, a reset twice
        want = (delta["TcpExtTCPKeepAlive"], delta["TcpExtTCPAbortOnTimeout"],
                (delta["TcpEstabResets"] - delta["TcpExtTCPAbortOnTimeout"]) // 2)
        try:
            wait_until(lambda: exported() == want, 30, f"export to count {want}")
        except Exception:
            pass  # told below, with the rest
        by_export = exported()
        text = get(url)
        w.stop(allow_loss=True)
        events = w.events()
        by_watch = (len([e for e in events if e["event"] == "probe"]),
                    len([e for e in events if e["event"] == "death" and e["cause"] == "keepalive"]),
                    len([e for e in events if e["event"] == "death" and e["cause"] == "reset"]))
        lost = {name: unlabelled(text, name) for name in LOSSES}
        watch_lost = w.events("lost")
        with open(stats.name) as f:
            stats_lines = sum(1 for _ in f)
    exact = by_export == want and by_watch == want and resets_made == want[2]
    print(f"soak, {SOAK_S} s: (probes, keepalive deaths, reset deaths) counted by the kernel "
          f"{want}, by export {by_export}, by watch {by_watch}: "
          f"{'exact' if exact else 'NOT EXACT'}; {resets_made} resets made; "
          f"lost: export {lost}, watch {watch_lost or 'nothing'}; "
          f"{stats_lines} stats records; slowest of {SOAK_S} scrapes with {IDLE_CLIENTS} idle "
          f"clients and a slow loris: {slowest * 1000:.0f} ms")
    print("  second   export KiB  watch KiB  export CPU s  watch CPU s")
    for r in rows:
        print(f"  {r[0]:>6}  {r[1]:>10}  {r[2]:>9}  {r[3]:>12.2f}  {r[4]:>11.2f}")
    base = next(r for r in rows if r[0] >= 60) if SOAK_S > 60 else rows[0]
    print(f"  memory after the first minute: export {(rows[-1][1] - base[1]) / 1024:+.1f} MiB, "
          f"watch {(rows[-1][2] - base[2]) / 1024:+.1f} MiB (goal: flat, under +2 MiB)")
    if not exact or any(lost.values()) or watch_lost:
        sys.exit(1)


if __name__ == "__main__":
    main()
