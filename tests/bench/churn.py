#!/usr/bin/env python3
"""make bench: loopback connection churn (build/churn) with nothing attached
and with each observer attached: `tcpkawatch --json`; the hook floor (an
empty program on each of tcpkawatch's hooks: what the kernel's dispatch
alone costs); libbpf-tools' tcplife and tcpstates. Then the average run
time of each of tcpkawatch's BPF programs, in a round of its own.

Runs in a network namespace of its own. This machine's speed drifts by tens
of percent from one second to the next (shared cores), so rounds are short
and every round with an observer lies between two rounds without, the
observers taking turns in an order that shifts by one each time. An
observer's figures are the medians, over its rounds, of its rate over the
mean of the two rounds around it (kept) and of its CPU time per connection
less theirs (added). CPU time is the busy time of every CPU in /proc/stat
over the round (user, system, interrupts; not idle, iowait nor steal) over
the connections made: the observers' own processes count.

libbpf-tools find their tracepoints through tracefs: it is mounted at
/sys/kernel/tracing for the run where it is not, and unmounted after.
ROUNDS (turns of every observer) and SECONDS_PER_ROUND change the run."""
import collections
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from ka import BUILD, WATCH_PROGS, Netns, TestFailure, Watch, run, wait_until  # noqa: E402

CHURN = os.path.join(BUILD, "churn")
ROUNDS = int(os.environ.get("ROUNDS", 12))
SECONDS = float(os.environ.get("SECONDS_PER_ROUND", 2))
TRACEFS = "/sys/kernel/tracing"
# the commands of the observers other than tcpkawatch (Watch runs it)
TOOLS = {
    "hook floor": (os.path.join(BUILD, "attach_all"), os.path.join(BUILD, "hook_floor.bpf.o")),
    "tcplife": ("/usr/sbin/tcplife",),
    "tcpstates": ("/usr/sbin/tcpstates",),
}
OBSERVERS = ("tcpkawatch",) + tuple(TOOLS)


def cpu_busy_s():
    """Time every CPU spent busy so far: /proc/stat's user, nice, system,
    irq and softirq (guest time is in user)"""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def churn(ns):
    """One round: connections a second, and µs of CPU busy per connection"""
    busy = cpu_busy_s()
    rate = float(run(CHURN, str(SECONDS), ns=ns).stdout)
    return rate, (cpu_busy_s() - busy) / (rate * SECONDS) * 1e6


class Tool:
    """A tracing tool running until stop(), its stdout (a line per event)
    to /dev/null. Attached once every BPF program it holds is the program
    of a link it holds: libbpf-tools say nothing then, and their stdout is
    buffered."""

    def __init__(self, name):
        self.name, self.cmd = name, TOOLS[name]

    def __enter__(self):
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        try:
            wait_until(self.attached, 20, f"{self.name} to attach")
        except BaseException:
            self.__exit__()
            raise
        return self

    def stderr(self):
        self.err.seek(0)
        return self.err.read()

    def attached(self):
        if self.proc.poll() is not None:
            raise TestFailure(f"{self.name} exited {self.proc.returncode}: {self.stderr()}")
        progs, linked = set(), set()
        fdinfo = f"/proc/{self.proc.pid}/fdinfo"
        try:
            fds = os.listdir(fdinfo)
        except FileNotFoundError:  # exited meanwhile: the next poll() says how
            return False
        for fd in fds:
            try:
                with open(os.path.join(fdinfo, fd)) as f:
                    info = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:  # closed meanwhile
                continue
            if "prog_id" in info:
                (linked if "link_type" in info else progs).add(info["prog_id"].strip())
        return progs and progs <= linked

    def stop(self):
        """End it as a user would (SIGINT); returns the events it said it
        lost (libbpf-tools: "lost N events on CPU #C"), a count."""
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{self.name} did not exit on SIGINT")
        err = self.stderr()
        if rc:
            raise TestFailure(f"{self.name} exited {rc}: {err}")
        return sum(int(n) for n in re.findall(r"lost (\d+) events", err))

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.err.close()


def watch_lost(w):
    """what a stopped tcpkawatch said it lost, a count of each kind"""
    return collections.Counter({k: n for rec in w.events("lost") for k, n in rec.items()
                                if k != "event"})


def observed(name, ns):
    """A round with the observer attached: (rate, CPU), and what it lost,
    a count of each kind"""
    if name == "tcpkawatch":
        with Watch() as w:
            r = churn(ns)
            w.stop(allow_loss=True)
            return r, watch_lost(w)
    with Tool(name) as t:
        r = churn(ns)
        return r, collections.Counter(events=t.stop())


@contextlib.contextmanager
def tracefs():
    """tracefs at /sys/kernel/tracing while the run lasts"""
    if os.path.ismount(TRACEFS):
        yield
        return
    run("mount", "-t", "tracefs", "tracefs", TRACEFS)
    try:
        yield
    finally:
        run("umount", TRACEFS)


def prog_stats():
    progs = json.loads(run("bpftool", "prog", "show", "--json").stdout)
    return {p["name"]: (p.get("run_time_ns", 0), p.get("run_cnt", 0))
            for p in progs if p.get("name") in WATCH_PROGS}


def stats_round(ns):
    """tcpkawatch's programs' run times over one round, and its rate:
    bpf_stats_enabled costs time too, so not in the rounds above."""
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        was = f.read().strip()
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        with Watch() as w:
            before = prog_stats()
            rate, _ = churn(ns)
            after = prog_stats()
            w.stop(allow_loss=True)
            lost = watch_lost(w)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(was)
    return rate, lost, {name: (t - before[name][0], c - before[name][1])
                        for name, (t, c) in after.items()}


def quartiles(values):
    """median, first and third quartiles"""
    if len(values) < 2:
        return values * 3
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q2, q1, q3


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as for Ctrl-C
    base = []  # (rate, CPU) of the rounds without, in order
    rounds = {name: [] for name in OBSERVERS}  # (rate, CPU, index of the base before)
    lost = {name: collections.Counter() for name in OBSERVERS}
    # No TIME_WAIT sockets: hundreds of thousands of them would pile up
    # over the run and slow every lookup as they grow and expire.
    with Netns({"net.ipv4.tcp_max_tw_buckets": 0}) as ns, tracefs():
        churn(ns)  # warm-up
        base.append(churn(ns))
        for i in range(ROUNDS):
            for name in OBSERVERS[i % len(OBSERVERS):] + OBSERVERS[:i % len(OBSERVERS)]:
                r, losses = observed(name, ns)
                rounds[name].append((*r, len(base) - 1))
                lost[name] += losses
                base.append(churn(ns))
        stats_rate, stats_lost, stats = stats_round(ns)
        lost["tcpkawatch"] += stats_lost

    rates = [r for r, _ in base]
    print(f"loopback churn, {ROUNDS} rounds of {SECONDS:g} s with each observer, "
          f"each between two rounds without ({len(base)} in all)")
    print(f"  without an observer: median {statistics.median(rates):.0f} connections/s "
          f"(min {min(rates):.0f}, max {max(rates):.0f}), "
          f"CPU {statistics.median(c for _, c in base):.1f} µs per connection")
    print(f"  {'with':12s} {'connections/s':>13s}  {'kept (quartiles)':23s}"
          f"  {'CPU µs/conn':>11s}  added (quartiles)")
    for name in OBSERVERS:
        kept, added = [], []
        for rate, cpu, k in rounds[name]:
            (r0, c0), (r1, c1) = base[k], base[k + 1]
            kept.append(100 * rate / ((r0 + r1) / 2))
            added.append(cpu - (c0 + c1) / 2)
        rate = statistics.median(r for r, _, _ in rounds[name])
        cpu = statistics.median(c for _, c, _ in rounds[name])
        print(f"  {name:12s} {rate:13.0f}  " +
              "{:5.1f}% ({:5.1f}%..{:5.1f}%)".format(*quartiles(kept)) +
              f"  {cpu:11.1f}  " + "{:+5.1f} ({:+.1f}..{:+.1f})".format(*quartiles(added)))
    print("  tcpkawatch's goal: 99% kept, 98% at the least")
    print("  losses reported: " + "; ".join(
        f"{name} " + (", ".join(f"{k} {n}" for k, n in lost[name].items()) or "none")
        for name in OBSERVERS))
    print(f"tcpkawatch's BPF programs during one more round ({stats_rate:.0f} connections/s), "
          "kernel.bpf_stats_enabled=1:")
    print(f"  {'program':20s} {'runs':>10s} {'avg ns/run':>11s} {'runs/conn':>10s}")
    conns = stats_rate * SECONDS
    for name in WATCH_PROGS:
        t, c = stats.get(name, (0, 0))
        print(f"  {name:20s} {c:10d} {t / c if c else 0:11.0f} {c / conns:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
