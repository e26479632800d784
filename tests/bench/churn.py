#!/usr/bin/env python3
"""make bench: loopback connection churn with and without `tcpkawatch --json`
running, and the average run time of each of its BPF programs.

Runs in a network namespace of its own. This machine's speed drifts by tens
of percent from one second to the next (shared cores), so rounds are short
and paired: each pair is one round without and one with tcpkawatch, back to
back, in alternating order; the figure is the median of the pairs' ratios."""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import WATCH_PROGS, TCPKAWATCH, Netns, Watch, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHURN = os.path.join(ROOT, "build", "churn")
ROUNDS = int(os.environ.get("ROUNDS", 20))
SECONDS = float(os.environ.get("SECONDS_PER_ROUND", 2))


def churn(ns):
    return float(run(CHURN, str(SECONDS), ns=ns).stdout)


def prog_stats():
    progs = json.loads(run("bpftool", "prog", "show", "--json").stdout)
    return {p["name"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in progs if p.get("name") in WATCH_PROGS}


def main():
    stats_was = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    without, with_watch, losses = [], [], []
    stats = {}
    # No TIME_WAIT sockets: hundreds of thousands of them would pile up
    # over the run and slow every lookup as they grow and expire.
    with Netns({"net.ipv4.tcp_max_tw_buckets": 0}) as ns:
        churn(ns)  # warm-up
        for i in range(ROUNDS):
            if i % 2:
                without.append(churn(ns))
            with Watch() as w:
                with_watch.append(churn(ns))
                w.stop(allow_loss=True)
                losses += w.events("lost")
            if not i % 2:
                without.append(churn(ns))
        # Run times in a round of their own: bpf_stats_enabled costs time too.
        try:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write("1")
            with Watch() as w:
                before = prog_stats()
                stats_rate = churn(ns)
                after = prog_stats()
                w.stop(allow_loss=True)
                losses += w.events("lost")
            stats = {name: (t - before[name][0], c - before[name][1])
                     for name, (t, c) in after.items()}
        finally:
            with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                f.write(stats_was)
    base, watched = statistics.median(without), statistics.median(with_watch)
    ratios = sorted(w / b for w, b in zip(with_watch, without))
    print(f"loopback churn, {ROUNDS} pairs of {SECONDS:g} s rounds, connections/s")
    print(f"  without tcpkawatch: median {base:8.0f}  (min {min(without):.0f}, max {max(without):.0f})")
    print(f"  with tcpkawatch:    median {watched:8.0f}  (min {min(with_watch):.0f}, max {max(with_watch):.0f})")
    print(f"  kept: {100 * statistics.median(ratios):.1f}% of the rate, median of the pairs "
          f"(quartiles {100 * ratios[len(ratios) // 4]:.1f}%..{100 * ratios[3 * len(ratios) // 4]:.1f}%;"
          f" goal 99%, floor 97%)")
    print(f"  losses tcpkawatch reported: {losses or 'none'}")
    print(f"BPF programs during one more round ({stats_rate:.0f} connections/s), "
          "kernel.bpf_stats_enabled=1:")
    print(f"  {'program':20s} {'runs':>10s} {'avg ns/run':>11s} {'runs/conn':>10s}")
    conns = stats_rate * SECONDS
    for name in WATCH_PROGS:
        t, c = stats.get(name, (0, 0))
        print(f"  {name:20s} {c:10d} {t / c if c else 0:11.0f} {c / conns:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
