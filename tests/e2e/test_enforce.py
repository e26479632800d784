"""tcpkawatch enforce: keepalive for programs that never set it."""
import functools
import json
import os
import re
import subprocess

from ka import (BUILD, TCPKAWATCH, Bpffs, Cgroup, Enforce, Netns, Peer, Watch, check,
                enforce_attachments, readline_within, run, same_on_every_kernel, wait_until)

OFF = 0
FOREIGN_SET_RTO, FOREIGN_CLEAR_ALL = 1, 2  # foreign_sockops.bpf.c's foreign_cb_mode


class ForeignSockops:
    """Somebody else's sockops program (foreign_sockops.bpf.c) attached to
    a cgroup, after whatever is attached there already: it runs after
    enforce's. seen() counts the connections it saw established; with
    cb_mode, it also sets or clears their bpf_sock_ops_cb_flags."""

    def __init__(self, cgroup, cb_mode=0):
        self.cgroup = cgroup
        self.cb_mode = cb_mode
        self.pin = f"/sys/fs/bpf/tkw_foreign_{os.getpid()}"

    def __enter__(self):
        self.bpffs = Bpffs().__enter__()
        try:
            run("bpftool", "prog", "load", os.path.join(BUILD, "foreign_sockops.bpf.o"),
                self.pin, "type", "sockops", "pinmaps", self.pin + "_maps")
            if self.cb_mode:
                run("bpftool", "map", "update", "pinned", self.pin + "_maps/foreign_cb_mode",
                    "key", "0", "0", "0", "0", "value", str(self.cb_mode), "0", "0", "0")
            run("bpftool", "cgroup", "attach", self.cgroup.path, "sock_ops", "pinned", self.pin,
                "multi")
        except Exception:
            self.__exit__()
            raise
        return self

    def seen(self):
        out = run("bpftool", "map", "dump", "pinned", self.pin + "_maps/foreign_seen",
                  "--json").stdout
        return json.loads(out)[0]["formatted"]["value"]

    def __exit__(self, *exc):
        run("bpftool", "cgroup", "detach", self.cgroup.path, "sock_ops", "pinned", self.pin,
            check_rc=False)
        run("rm", "-rf", self.pin, self.pin + "_maps", check_rc=False)
        self.bpffs.__exit__()


class LateClient(Peer):
    """A client in a namespace and a cgroup that turns keepalive on itself
    once connected, as Go's standard library does on every connection
    (peer.py --late): at once with idle, and at each keepalive(); killed
    on exit."""

    def __init__(self, ns, cgroup, port, idle=None):
        super().__init__(ns, "client", "--port", port, "--lifetime", 60, "--late",
                         *(("--idle", idle) if idle else ()), cgroup=cgroup, stdin=True)

    def __enter__(self):
        self.port = self.wait("ready")["ready"]
        return self

    def keepalive(self, idle):
        sets = len([x for x in self.out.snapshot() if "set" in x])
        self.stdin.write(f"{idle}\n")
        self.stdin.flush()
        done = self.out.wait(lambda x: "set" in x, 10, "late client: keepalive set",
                             count=sets + 1)
        check(done[-1]["set"] == idle, f"late client: keepalive set to {done[-1]}, not {idle}")

    def __exit__(self, *exc):
        self.stop()


def pair(ns, port, cgroup=None, server_args=(), client_args=()):
    """A server and a client that set no keepalive unless told; returns
    both and the keepalive settings each socket had once established."""
    server = Peer(ns, "server", "--port", port, "--lifetime", 30, *server_args, cgroup=cgroup)
    server.wait("ready")
    client = Peer(ns, "client", "--port", port, "--lifetime", 30, *client_args, cgroup=cgroup)
    cka = client.wait("ready")["ka"]
    ska = server.wait("accepted")["ka"]
    return server, client, ska, cka


def test_enforce_unmodified_program_dies_by_keepalive():
    """Default scope (the cgroup v2 root): a program that never sets
    keepalive gets it on both ends, and a blackholed peer is found."""
    with Netns() as ns, Watch("-N", ns.inode) as w, \
            Enforce("--idle", 1, "--intvl", 1, "--cnt", 2) as e:
        ns.blackhole_after_handshake(5200)
        server, client, ska, cka = pair(ns, 5200)
        check(ska == [1, 1, 1, 2, 0] and cka == [1, 1, 1, 2, 0], f"settings {ska} {cka}")
        for p in (server, client):
            err = p.wait("error", timeout=10)
            check(err["error"] == "ETIMEDOUT" and err["after_s"] <= 1 + 1 * 2 + 1,
                  f"application saw {err}")
        deaths = w.wait(lambda x: x["event"] == "death", 10, "two deaths", count=2)
        check(all(d["cause"] == "keepalive" and d["ka_source"] == "enforced" for d in deaths),
              f"deaths {deaths}")
        check(e.stop() == 0 and w.stop() == 0, "exit codes")
        check(any("Keepalive set on" in line for line in e.err), f"summary line {e.err}")


def test_fill_keeps_app_values_override_replaces():
    app = ("--idle", 30, "--intvl", 7, "--cnt", 4)
    with Netns() as ns, Cgroup() as cg:
        with Enforce("--cgroup", cg.path, "--idle", 1, "--intvl", 1, "--cnt", 2):
            _, _, ska, cka = pair(ns, 5201, cg, server_args=app, client_args=app)
            check(ska[:4] == [1, 30, 7, 4] and cka[:4] == [1, 30, 7, 4],
                  f"fill mode changed the app's values: {ska} {cka}")
        with Enforce("--cgroup", cg.path, "--idle", 1, "--intvl", 1, "--cnt", 2, "--override"):
            _, _, ska, cka = pair(ns, 5202, cg, server_args=app, client_args=app)
            check(ska[:4] == [1, 1, 1, 2] and cka[:4] == [1, 1, 1, 2],
                  f"override kept the app's values: {ska} {cka}")


def test_cgroup_scope():
    with Netns() as ns, Cgroup() as inside, Cgroup() as outside, \
            Enforce("--cgroup", inside.path, "--idle", 5, "--intvl", 2, "--cnt", 3):
        _, _, ska, cka = pair(ns, 5203, inside)
        check(ska[:4] == [1, 5, 2, 3] and cka[:4] == [1, 5, 2, 3], f"inside {ska} {cka}")
        _, _, ska, cka = pair(ns, 5204, outside)
        check(ska[0] == OFF and cka[0] == OFF, f"outside touched: {ska} {cka}")


def test_ports_and_excluded_ports():
    with Netns() as ns, Cgroup() as cg:
        with Enforce("--cgroup", cg.path, "--port", 5205, "--idle", 5):
            _, _, ska, cka = pair(ns, 5205, cg)
            check(ska[0] == 1 and cka[0] == 1, f"--port 5205 missed: {ska} {cka}")
            _, _, ska, cka = pair(ns, 5206, cg)
            check(ska[0] == OFF and cka[0] == OFF, f"--port 5205 took 5206: {ska} {cka}")
        with Enforce("--cgroup", cg.path, "--exclude-port", 5208, "--idle", 5):
            _, _, ska, cka = pair(ns, 5207, cg)
            check(ska[0] == 1 and cka[0] == 1, f"5207 missed: {ska} {cka}")
            _, _, ska, cka = pair(ns, 5208, cg)
            check(ska[0] == OFF and cka[0] == OFF, f"excluded 5208 touched: {ska} {cka}")


def test_enforce_user_timeout():
    """Unacknowledged data to a blackholed peer: TCP_USER_TIMEOUT kills it
    at about the given time, long before tcp_retries2 would."""
    with Netns() as ns, Cgroup() as cg, Watch("-N", ns.inode) as w, \
            Enforce("--cgroup", cg.path, "--idle", 600, "--user-timeout", 2000):
        ns.blackhole_after_handshake(5209)
        server, client, ska, cka = pair(ns, 5209, cg, client_args=("--delay", 1, "--send", 1000))
        check(cka == [1, 600, 10, 6, 2000], f"client settings {cka}")
        err = client.wait("error", timeout=15)
        death = w.wait(lambda x: x["event"] == "death", 10, "the client's death")[0]
        check(death["cause"] == "user_timeout" and death["pid"] == client.pid, f"death {death}")
        check(err["error"] == "ETIMEDOUT" and 2.5 <= err["after_s"] <= 5, f"application {err}")


def connection_gets_keepalive(ns, port, cgroup=None):
    _, _, ska, cka = pair(ns, port, cgroup)
    return ska[0] == 1 and cka[0] == 1


def test_lifecycle_signals():
    with Netns() as ns:
        for n, sig in enumerate(("SIGINT", "SIGTERM", "SIGKILL")):
            with Enforce("--idle", 5) as e:
                check(connection_gets_keepalive(ns, 5210 + 2 * n), f"before {sig}")
                e.stop(signal_name=sig)
            check(not enforce_attachments(), f"still attached after {sig}")
            check(not connection_gets_keepalive(ns, 5211 + 2 * n), f"keepalive after {sig}")


def test_pin_status_off_and_foreign_program():
    with Bpffs(), Netns() as ns, Cgroup() as cg, ForeignSockops(cg) as foreign:
        foreign_seen = foreign.seen
        try:
            def tcpkawatch(*args):
                return subprocess.run([TCPKAWATCH, "enforce", *map(str, args)],
                                      capture_output=True, text=True, timeout=30)

            p = tcpkawatch("--pin", "--cgroup", cg.path, "--idle", 900)
            check(p.returncode == 0 and "pinned" in p.stdout, f"--pin: {p.stdout} {p.stderr}")
            before = foreign_seen()
            _, _, ska, cka = pair(ns, 5220, cg)
            check(ska[1] == 900 and cka[1] == 900, f"pinned policy not applied {ska} {cka}")
            check(foreign_seen() == before + 2, "the foreign program stopped seeing connections")
            check_ka(ns, (5220, "enforced", 900, 10, 6))  # list, a process of its own
            status = tcpkawatch("--status").stdout
            check("idle=900s" in status and cg.path in status and "since" in status,
                  f"--status: {status}")
            p = tcpkawatch("--pin", "--cgroup", cg.path, "--idle", 11)
            check(p.returncode == 0, f"second --pin: {p.stderr}")
            # a sockops and a cgroup/setsockopt link
            check(len(enforce_attachments()) == 2, f"stacked: {enforce_attachments()}")
            _, _, ska, _ = pair(ns, 5221, cg)
            check(ska[1] == 11, f"second --pin did not replace the first: {ska}")
            check_ka(ns, (5220, "enforced", 900, 10, 6))  # the first's mark stays
            p = tcpkawatch("--off")
            check(p.returncode == 0 and not enforce_attachments(), f"--off: {p.stdout}")
            check("not enforced" in tcpkawatch("--status").stdout, "--status after --off")
            before = foreign_seen()
            _, _, ska, cka = pair(ns, 5222, cg)
            check(ska[0] == OFF and cka[0] == OFF, f"keepalive after --off {ska}")
            check(foreign_seen() == before + 2, "the foreign program stopped after --off")
        finally:
            tcpkawatch_off = [TCPKAWATCH, "enforce", "--off"]
            subprocess.run(tcpkawatch_off, capture_output=True, timeout=30)


def test_pin_mounts_bpffs_where_none_is():
    """--pin on a system without the BPF filesystem (a mount namespace of
    our own, /sys/fs/bpf unmounted there) mounts it, as bpftool does, and
    pins; the host's /sys/fs/bpf is not touched. Leaving the namespace
    drops the pins with the mount, so nothing outlives the test."""
    with Netns() as ns, Cgroup() as cg:
        script = (f"umount /sys/fs/bpf 2>/dev/null; "
                  f"{TCPKAWATCH} enforce --pin --cgroup {cg.path} --idle 13 || exit 1; "
                  f"echo pinned; read x; {TCPKAWATCH} enforce --status; "
                  f"{TCPKAWATCH} enforce --off")
        sh = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        try:
            line = readline_within(sh.stdout, 30)
            check("pinned" in line, f"--pin without bpffs: {line!r}")
            _, _, ska, cka = pair(ns, 5223, cg)
            check(ska[1] == 13 and cka[1] == 13, f"pinned policy not applied {ska} {cka}")
            check(not os.path.exists("/sys/fs/bpf/tcpkawatch"), "pinned in the host's bpffs")
            out, err = sh.communicate("\n", timeout=30)
            check(sh.returncode == 0 and "idle=13s" in out and "enforcement removed" in out,
                  f"--status/--off there: {out} {err}")
            check("mounted the BPF filesystem at /sys/fs/bpf" in err, f"no note: {err}")
        finally:
            if sh.poll() is None:
                sh.kill()
                sh.wait()
        check(not enforce_attachments(), f"left attached: {enforce_attachments()}")


@same_on_every_kernel
def test_bad_values():
    for args, word in ((["--idle", 0], "idle"), (["--intvl", 32768], "intvl"),
                       (["--cnt", 128], "cnt"), (["--user-timeout", -1], "user timeout"),
                       (["--user-timeout", 2147483648], "user timeout"),
                       # (32767 + 32767 * 127) s: past the int do_tcp_setsockopt() takes
                       (["--idle", 32767, "--intvl", 32767, "--cnt", 127, "--user-timeout",
                         "auto"], "--user-timeout auto"),
                       (["--port", 0], "port"), (["--cgroup", "/nonexistent"], "/nonexistent"),
                       (["--cgroup", "/tmp"], "cgroup v2"), (["--status", "--off"], "--off"),
                       (["--bogus"], "--bogus")):
        p = subprocess.run([TCPKAWATCH, "enforce", *map(str, args)], capture_output=True,
                           text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        check(p.returncode != 0 and len(lines) == 1 and word in lines[0],
              f"{args}: rc {p.returncode} {p.stderr!r}")
        check(not enforce_attachments(), f"{args} left something attached")


def keepalive_timers(ns, port, expr="( sport = :{port} or dport = :{port} )"):
    """The keepalive timers ss shows on the connections of port (or those
    expr picks): seconds left."""
    out = run("ss", "-tioenH", "state", "established", expr.format(port=port), ns=ns).stdout
    return [ss_seconds(t.split(",")[1])
            for t in out.replace("timer:(", "\n").splitlines() if t.startswith("keepalive,")]


def ss_seconds(text):
    """Seconds in ss's timer notation (print_ms_timer()): "10min",
    "4min59sec", "12sec", "4.988ms" (4 s 988 ms), "988ms"; "" is 0."""
    m = re.fullmatch(r"(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?", text)
    check(m, f"ss timer {text!r}")
    minutes, secs, ms = (int(g or 0) for g in m.groups())
    return minutes * 60 + secs + ms / 1000


@functools.cache  # one dump of the kernel's BTF a run (seconds under qemu)
def kernel_has_struct(name):
    """The running kernel's BTF has `struct name`."""
    return f"STRUCT '{name}'" in run("bpftool", "btf", "dump", "file",
                                     "/sys/kernel/btf/vmlinux").stdout


def test_existing_connections():
    """--existing reaches connections established before enforce started,
    in the namespace they live in and only inside --cgroup; without it,
    such connections stay untouched. Kernels before the batching TCP
    iterator (struct bpf_tcp_iter_state, which came with bpf_setsockopt()
    in iterators: 5.10 has neither) refuse --existing in one line."""
    if not kernel_has_struct("bpf_tcp_iter_state"):
        with Cgroup() as cg:
            p = subprocess.run([TCPKAWATCH, "enforce", "--existing", "--cgroup", cg.path],
                               capture_output=True, text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 1 and len(lines) == 1 and "--existing iterator" in lines[0]
              and "bpf_setsockopt" in lines[0] and "without --existing works" in lines[0],
              f"--existing on a kernel without it: rc {p.returncode} {p.stderr!r}")
        check(not enforce_attachments(), "left attached")
        return
    with Netns() as ns, Cgroup() as cg, Cgroup() as other, Watch("-N", ns.inode) as w:
        ns.blackhole_after_handshake(5230)  # idle: nothing to drop until keepalive
        pair(ns, 5230, cg)
        pair(ns, 5231, other)
        pair(ns, 5232, cg)
        check(keepalive_timers(ns, 5230) == [], "keepalive before enforce")
        with Enforce("--cgroup", cg.path, "--idle", 7, "--intvl", 2, "--cnt", 3) as e:
            check(keepalive_timers(ns, 5230) == [], "touched without --existing")
            e.stop()
        with Enforce("--cgroup", cg.path, "--existing", "--idle", 2, "--intvl", 1,
                     "--cnt", 1) as e:
            check(any("keepalive set on 4," in line for line in e.err), f"report {e.err}")
            for port in (5230, 5232):
                timers = keepalive_timers(ns, port)
                check(len(timers) == 2 and all(0 < t <= 2 for t in timers),
                      f"port {port}: keepalive timers {timers}")
            check(keepalive_timers(ns, 5231) == [], "--existing reached another cgroup")
            deaths = w.wait(lambda x: x["event"] == "death", 10, "two deaths", count=2)
            check(all(d["cause"] == "keepalive" and d["ka_source"] == "enforced"
                      for d in deaths), f"deaths {deaths}")


def test_watch_with_enforce():
    """One command fixes and shows: tcpkawatch --enforce IDLE,INTVL,CNT."""
    with Netns() as ns, Watch("-N", ns.inode, "--enforce", "1,1,2") as w:
        ns.blackhole_after_handshake(5240)
        server, client, ska, cka = pair(ns, 5240)
        check(ska[:4] == [1, 1, 1, 2] and cka[:4] == [1, 1, 1, 2], f"settings {ska} {cka}")
        deaths = w.wait(lambda x: x["event"] == "death", 10, "two deaths", count=2)
        check(all(d["cause"] == "keepalive" and d["ka_source"] == "enforced" for d in deaths),
              f"deaths {deaths}")
        check(w.stop() == 0 and not enforce_attachments(), "still attached after exit")


def check_ka(ns, *wants):
    """Each of wants, (lport, source, idle, intvl, cnt[, timer_above]): the
    established socket of local port lport has keepalive from source
    (list's ka_source) with these values (list's, and ss's timer: its
    seconds left lie within the idle, and above timer_above). One list
    for them all."""
    p = subprocess.run([TCPKAWATCH, "list", "--json", "-N", str(ns.inode)], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 0, f"list: rc {p.returncode} {p.stderr}")
    records = [json.loads(line) for line in p.stdout.splitlines()]
    for lport, source, idle, intvl, cnt, *above in wants:
        timer_above = above[0] if above else 0
        mine = [r for r in records if r["lport"] == lport and r["state"] == "ESTABLISHED"]
        check(len(mine) == 1, f"list: port {lport}: {mine}")
        got = [mine[0][k] for k in ("ka_source", "ka_idle_s", "ka_intvl_s", "ka_cnt")]
        check(got == [source, idle, intvl, cnt],
              f"port {lport}: list {got}, expected {[source, idle, intvl, cnt]}")
        timers = keepalive_timers(ns, lport, "sport = :{port}")
        check(len(timers) == 1 and timer_above < timers[0] <= idle,
              f"port {lport}: ss timer {timers}")


def test_app_keepalive_after_enforce_is_app():
    """An application that turns keepalive on itself once connected (Go
    does, on every connection) owns the values from then on: list says
    ka_source app, with its values; the other end, left alone, stays
    enforced with enforce's. A foreign sockops program that runs after
    enforce's and sets or clears bpf_sock_ops_cb_flags changes neither,
    nor the source of a connection whose application set keepalive before
    connect() (fill mode keeps it: app)."""
    for n, mode in enumerate((FOREIGN_SET_RTO, FOREIGN_CLEAR_ALL)):
        port = 5250 + 2 * n
        with Netns() as ns, Cgroup() as cg, \
                Enforce("--cgroup", cg.path, "--idle", 300, "--intvl", 2, "--cnt", 3) as e, \
                ForeignSockops(cg, mode) as foreign:
            server = Peer(ns, "server", "--port", port, "--lifetime", 30, cgroup=cg)
            server.wait("ready")
            with LateClient(ns, cg, port) as client:
                server.wait("accepted")
                check(foreign.seen() == 2, f"foreign program saw {foreign.seen()}")
                check_ka(ns, (client.port, "enforced", 300, 2, 3), (port, "enforced", 300, 2, 3))
                client.keepalive(600)
                check_ka(ns, (client.port, "app", 600, 600, 3, 300),
                         (port, "enforced", 300, 2, 3))
                _, own, _, _ = pair(ns, port + 1, cg,
                                    client_args=("--idle", 400, "--intvl", 4, "--cnt", 5))
                check_ka(ns, (own.wait("ready")["ready"], "app", 400, 4, 5),
                         (port + 1, "enforced", 300, 2, 3))
            check(e.stop() == 0, "enforce exit code")
            wait_until(lambda: any("the application took over on 1;" in line for line in e.err),
                       5, f"the summary, with one take-over: {e.err}")


def test_watch_source_follows_app():
    """watch's events (the keepalive timer hooks, which reach the socket by
    container_of()) tell the same: the client that set its own idle 2 s
    after connect() probes and dies as app with its values, the server
    end as enforced with enforce's."""
    port = 5254
    with Netns() as ns, Cgroup() as cg, Watch("-N", ns.inode) as w, \
            Enforce("--cgroup", cg.path, "--idle", 1, "--intvl", 1, "--cnt", 2):
        ns.blackhole_after_handshake(port)
        server = Peer(ns, "server", "--port", port, "--lifetime", 30, cgroup=cg)
        server.wait("ready")
        with LateClient(ns, cg, port, idle=2) as client:
            deaths = w.wait(lambda x: x["event"] == "death", 15, "two deaths", count=2)
            probes = w.events("probe", ns.inode)
        for lport, source, idle in ((port, "enforced", 1), (client.port, "app", 2)):
            mine = [p for p in probes if p["lport"] == lport]
            check(len(mine) == 2 and all(p["ka_source"] == source and p["ka_idle_s"] == idle and
                                         p["ka_intvl_s"] == idle for p in mine),
                  f"port {lport}: probes {mine}")
            mine = [d for d in deaths if d["lport"] == lport]
            check(len(mine) == 1 and mine[0]["cause"] == "keepalive" and
                  mine[0]["ka_source"] == source, f"port {lport}: death {mine}")


def test_existing_then_app_takes_over():
    """--existing marks what it sets as enforced; the application's own
    keepalive after that is app. On kernels without --existing
    (test_existing_connections checks the refusal) there is nothing to
    test."""
    if not kernel_has_struct("bpf_tcp_iter_state"):
        return
    port = 5255
    with Netns() as ns, Cgroup() as cg:
        server = Peer(ns, "server", "--port", port, "--lifetime", 30, cgroup=cg)
        server.wait("ready")
        with LateClient(ns, cg, port) as client:
            server.wait("accepted")
            with Enforce("--cgroup", cg.path, "--existing", "--idle", 300, "--intvl", 2,
                         "--cnt", 3) as e:
                check(any("keepalive set on 2," in line for line in e.err), f"report {e.err}")
                check_ka(ns, (client.port, "enforced", 300, 2, 3), (port, "enforced", 300, 2, 3))
                client.keepalive(600)
                check_ka(ns, (client.port, "app", 600, 600, 3, 300),
                         (port, "enforced", 300, 2, 3))


def test_other_setsockopt_untouched():
    """The cgroup/setsockopt program changes no option: one with a buffer
    longer than a page (SO_BINDTODEVICE takes the name's first bytes),
    which the program sees only in part, still works below the cgroup."""
    script = ("import socket; s = socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'lo' + bytes(5000)); "
              "print(s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b'\\0'))")
    with Cgroup() as cg, Enforce("--cgroup", cg.path, "--idle", 5):
        p = subprocess.run(["sh", "-c", f'echo $$ > {cg.path}/cgroup.procs && exec "$@"', "sh",
                            "python3", "-c", script], capture_output=True, text=True, timeout=30)
        check(p.returncode == 0 and p.stdout.strip() == "b'lo'",
              f"setsockopt below the cgroup: rc {p.returncode} {p.stdout} {p.stderr}")
