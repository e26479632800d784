"""Namespaces told apart, filters that keep exactly what they say, and the
command line's behaviour."""
import subprocess

from ka import (TCPKAWATCH, Netns, Peer, TestFailure, Watch, check, check_nothing_attached,
                same_on_every_kernel)
from test_keepalive import COUNTERS, KA, open_pair


def test_two_namespaces_same_ports():
    """The same tuple in two namespaces: events carry the right netns, and
    each namespace's probe count equals its own nstat delta."""
    with Netns() as a, Netns() as b, Watch() as w:
        before = {ns.name: ns.nstat(*COUNTERS) for ns in (a, b)}
        for ns in (a, b):
            ns.blackhole_after_handshake(5000)
        pairs = {ns.name: open_pair(ns, 5000) for ns in (a, b)}
        for ns in (a, b):
            w.wait(lambda e, n=ns.inode: e["event"] == "death" and e["netns"] == n, 15,
                   f"deaths in {ns.name}", count=2)
        after = {ns.name: ns.nstat(*COUNTERS) for ns in (a, b)}
        w.stop()
        for ns in (a, b):
            server, client, cport = pairs[ns.name]
            delta = {k: after[ns.name][k] - before[ns.name][k] for k in COUNTERS}
            probes = w.events("probe", ns.inode)
            deaths = w.events("death", ns.inode)
            check(len(probes) == delta["TcpExtTCPKeepAlive"],
                  f"{ns.name}: {len(probes)} probes, nstat {delta}")
            check(len(deaths) == delta["TcpExtTCPAbortOnTimeout"] == 2,
                  f"{ns.name}: {len(deaths)} deaths, nstat {delta}")
            check({d["pid"] for d in deaths} == {server.pid, client.pid},
                  f"{ns.name}: owners {deaths}")


def test_filters():
    """-p, -P and -N running side by side over the same traffic. -p is the
    server's pid, known before its connection is accepted: the listener is
    older than that watch, so the owner of what it accepts is resolved by
    the loader."""
    with Netns() as a, Netns() as b:
        with Watch("-N", a.inode) as by_ns, Watch("-P", 5011) as by_port:
            for ns, port in ((a, 5010), (b, 5011)):
                ns.blackhole_after_handshake(port)
            # keepalive once accepted: on a slow machine (qemu, busy) the
            # server may run accept() only after a socket with keepalive
            # from the handshake died in the accept queue, owned by nobody
            server = Peer(a, "server", "--port", 5010, "--lifetime", 30, "--ka-after-accept",
                          *KA)
            server.wait("ready")
            with Watch("-p", server.pid) as by_pid:
                client = Peer(a, "client", "--port", 5010, "--lifetime", 30, *KA)
                client.wait("ready")
                pb = open_pair(b, 5011)
                for w in (by_ns, by_port):
                    w.wait(lambda e: e["event"] == "death", 15, "deaths", count=2)
                try:
                    by_pid.wait(lambda e: e["event"] == "death", 15, "the server's death")
                except TestFailure as e:  # seen 1 in 3 with three busy qemu guests
                    raise TestFailure(f"{e}; -p's events {by_pid.events()}; its stderr "
                                      f"{''.join(by_pid.err)!r}; -N's {by_ns.events()}; "
                                      f"server {server.pid}") from e
                by_pid.stop()
            by_ns.stop()
            by_port.stop()
        for w, keep, what in (
                (by_ns, lambda e: e["netns"] == a.inode, "-N"),
                (by_port, lambda e: 5011 in (e["lport"], e["rport"]), "-P"),
                (by_pid, lambda e: e["pid"] == server.pid, "-p")):
            evs = [e for e in w.out.snapshot() if e["event"] in ("probe", "death")]
            check(evs and all(keep(e) for e in evs), f"{what} kept {evs}")
        check(len(by_ns.events("death")) == 2 and len(by_port.events("death")) == 2
              and len(by_pid.events("death")) == 1, "death counts per filter")
        check(all(e["netns"] == b.inode for e in by_port.events("death")), "-P netns")
        check(len(by_pid.events("probe")) == 2,
              f"-p probes {by_pid.events('probe')}; all its events {by_pid.events()}; "
              f"-N's events {by_ns.events()}")
        del pb


def run_cli(*args, user=None):
    cmd = [TCPKAWATCH, *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@same_on_every_kernel
def test_bad_input_one_line():
    for args, word in ((["-d", "abc"], "duration"), (["-d", "0"], "duration"),
                       (["-P", "70000"], "port"), (["-p", "x"], "pid"),
                       (["-N", "-3"], "netns"), (["-4", "-6"], "-4"),
                       (["--bogus"], "--bogus"), (["-d"], "-d"), (["extra"], "extra"),
                       (["--max-connections", "0"], "--max-connections"),
                       (["--max-connections", "x"], "--max-connections"),
                       (["--max-connections", str(2**27 + 1)], "--max-connections"),
                       (["export", "--max-connections", "-1"], "--max-connections")):
        p = run_cli(*args)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and word in lines[0] and not p.stdout,
              f"{args}: rc {p.returncode}, stderr {p.stderr!r}")
    p = run_cli("-d", "1", user=65534)
    check(p.returncode == 1 and p.stderr.startswith("tcpkawatch: watch needs CAP_BPF, CAP_PERFMON")
          and p.stderr.endswith("; run as root or grant them\n") and p.stderr.count("\n") == 1,
          f"as nobody: rc {p.returncode} {p.stderr!r}")  # the whole line: test_caps.py
    p = run_cli("--help")
    check(p.returncode == 0 and "EXAMPLES" in p.stdout and "--json" in p.stdout, "--help")
    check_nothing_attached()


def test_duration_and_sigterm():
    p = run_cli("-d", "1", "--json")
    check(p.returncode == 0 and p.stderr.strip().endswith("Ctrl-C to end."),
          f"-d 1: rc {p.returncode} {p.stderr!r}")
    check_nothing_attached()
    with Watch() as w:
        check(w.stop(signal_name="SIGTERM") == 0, "SIGTERM exit code")
    with Watch() as w:  # __exit__ checks that nothing stays attached
        check(w.stop(signal_name="SIGKILL") == -9, "SIGKILL")
