#!/usr/bin/env python3
"""make bench, a storm of deaths: `tcpkawatch export` while 1,000,000
connections in a namespace of our own are reset (build/churn --resets, in
batches of 100,000: the server closes with SO_LINGER 0, the client dies by
reset). After each batch, once the exporter counted every death
(tcpkawatch_deaths_total{cause="reset"} equal to the connections made and
to half the namespace's TcpEstabResets, nothing lost): the exporter's resident
memory (VmRSS) and CPU time (utime + stime). The figures: memory growth
after the first batch (the goal: under 2 MiB), CPU per 1,000 deaths.
RESETS and RESETS_BATCH change the sizes."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import ROOT, Netns, vmrss_kib, wait_until  # noqa: E402
from test_export import Exporter, free_port, get, sample  # noqa: E402

RESETS = int(os.environ.get("RESETS", 1000000))
BATCH = int(os.environ.get("RESETS_BATCH", 100000))
CHURN = os.path.join(ROOT, "build", "churn")
LOSSES = ("tcpkawatch_ringbuf_lost_total", "tcpkawatch_untracked_connections_total",
          "tcpkawatch_hook_misses_total")


def cpu_s(pid):
    """utime + stime of the process, in seconds"""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def unlabelled(text, name):
    """The value of a series without labels in Prometheus text"""
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith(name + " "))


def main():
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    rows = []
    with Netns() as ns, Exporter("--listen", f"127.0.0.1:{port}") as ex:
        pid = ex.proc.pid
        resets0 = ns.nstat("TcpEstabResets")["TcpEstabResets"]
        made = 0
        while made < RESETS:
            n = min(BATCH, RESETS - made)
            out = subprocess.run(["ip", "netns", "exec", ns.name, CHURN, "--resets", str(n),
                                  "7100"], capture_output=True, text=True, timeout=600)
            if out.returncode:
                raise SystemExit(f"churn --resets: {out.stderr}")
            made += int(out.stdout)
            wait_until(lambda: sample(get(url), "tcpkawatch_deaths_total", netns=ns.inode,
                                      cause="reset", errno="ECONNRESET") == made, 120,
                       f"{made} reset deaths counted")
            # both ends count one: the client's tcp_reset(), the server's
            # abortive close from ESTABLISHED (tcp_set_state())
            resets = ns.nstat("TcpEstabResets")["TcpEstabResets"] - resets0
            text = get(url)
            lost = {name: unlabelled(text, name) for name in LOSSES}
            if resets != 2 * made or any(lost.values()):
                raise SystemExit(f"after {made}: nstat TcpEstabResets {resets}, lost {lost}")
            rows.append((made, vmrss_kib(pid), cpu_s(pid)))
        ex.stop()
    print(f"reset storm through tcpkawatch export: {made} deaths, every one counted "
          f"(= TcpEstabResets / 2), nothing lost")
    print("  deaths     VmRSS KiB   CPU s")
    for made, rss, cpu in rows:
        print(f"  {made:>8}  {rss:>10}  {cpu:6.2f}")
    first, last = rows[0], rows[-1]
    print(f"  memory after the first {first[0]}: {(last[1] - first[1]) / 1024:+.1f} MiB "
          f"(goal: under +2 MiB)")
    print(f"  loader CPU: {1000 * (last[2] - first[2]) / (last[0] - first[0]) * 1000:.1f} ms "
          f"per 1,000 deaths")


if __name__ == "__main__":
    main()
