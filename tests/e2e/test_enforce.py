"""tcpkawatch enforce: keepalive for programs that never set it."""
import json
import os
import subprocess

from ka import (BUILD, ROOT, TCPKAWATCH, Bpffs, Cgroup, Enforce, Netns, Peer, Watch, check,
                enforce_attachments, readline_within, run)

OFF = 0


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
    foreign_obj = os.path.join(BUILD, "foreign_sockops.bpf.o")
    pin = f"/sys/fs/bpf/tkw_foreign_{os.getpid()}"
    with Bpffs(), Netns() as ns, Cgroup() as cg:
        run("bpftool", "prog", "load", foreign_obj, pin, "type", "sockops",
            "pinmaps", pin + "_maps")
        try:
            run("bpftool", "cgroup", "attach", cg.path, "sock_ops", "pinned", pin, "multi")

            def foreign_seen():
                out = run("bpftool", "map", "dump", "pinned", pin + "_maps/foreign_seen",
                          "--json").stdout
                return json.loads(out)[0]["formatted"]["value"]

            def tcpkawatch(*args):
                return subprocess.run([TCPKAWATCH, "enforce", *map(str, args)],
                                      capture_output=True, text=True, timeout=30)

            p = tcpkawatch("--pin", "--cgroup", cg.path, "--idle", 9)
            check(p.returncode == 0 and "pinned" in p.stdout, f"--pin: {p.stdout} {p.stderr}")
            before = foreign_seen()
            _, _, ska, cka = pair(ns, 5220, cg)
            check(ska[1] == 9 and cka[1] == 9, f"pinned policy not applied {ska} {cka}")
            check(foreign_seen() == before + 2, "the foreign program stopped seeing connections")
            status = tcpkawatch("--status").stdout
            check("idle=9s" in status and cg.path in status and "since" in status,
                  f"--status: {status}")
            p = tcpkawatch("--pin", "--cgroup", cg.path, "--idle", 11)
            check(p.returncode == 0, f"second --pin: {p.stderr}")
            check(len(enforce_attachments()) == 1, f"stacked: {enforce_attachments()}")
            _, _, ska, _ = pair(ns, 5221, cg)
            check(ska[1] == 11, f"second --pin did not replace the first: {ska}")
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
            run("bpftool", "cgroup", "detach", cg.path, "sock_ops", "pinned", pin,
                check_rc=False)
            run("rm", "-rf", pin, pin + "_maps", check_rc=False)


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


def test_bad_values():
    for args, word in ((["--idle", 0], "idle"), (["--intvl", 32768], "intvl"),
                       (["--cnt", 128], "cnt"), (["--user-timeout", -1], "user timeout"),
                       (["--user-timeout", 2147483648], "user timeout"),
                       (["--port", 0], "port"), (["--cgroup", "/nonexistent"], "/nonexistent"),
                       (["--cgroup", "/tmp"], "cgroup v2"), (["--status", "--off"], "--off"),
                       (["--bogus"], "--bogus")):
        p = subprocess.run([TCPKAWATCH, "enforce", *map(str, args)], capture_output=True,
                           text=True, timeout=30)
        lines = p.stderr.strip().splitlines()
        check(p.returncode != 0 and len(lines) == 1 and word in lines[0],
              f"{args}: rc {p.returncode} {p.stderr!r}")
        check(not enforce_attachments(), f"{args} left something attached")


def keepalive_timers(ns, port):
    """The keepalive timers ss shows on the connections of port: seconds left."""
    out = run("ss", "-tioenH", "state", "established", f"( sport = :{port} or dport = :{port} )",
              ns=ns).stdout
    return [float(t.split(",")[1].rstrip("sec").rstrip("m")) / (1000 if "ms," in t else 1)
            for t in out.replace("timer:(", "\n").splitlines() if t.startswith("keepalive,")]


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
            # Kernels whose bpf_setsockopt() refuses TCP_BPF_SOCK_OPS_CB_FLAGS
            # (6.1) cannot tag: then all four are untagged, said so, and app.
            untagged = [line for line in e.err if "does not let an iterator tag" in line]
            check(not untagged or "those 4 as ka_source app" in untagged[0],
                  f"untagged note {untagged}")
            source = "app" if untagged else "enforced"
            deaths = w.wait(lambda x: x["event"] == "death", 10, "two deaths", count=2)
            check(all(d["cause"] == "keepalive" and d["ka_source"] == source
                      for d in deaths), f"deaths {deaths}, expected ka_source {source}")


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
