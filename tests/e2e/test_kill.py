"""tcpkawatch kill: what it selects, in two namespaces with the same ports
(a blackholed connection probing, an idle one without keepalive, a healthy
one with its probes answered); --dry-run closes nothing; what it closes the
application sees as ECONNABORTED, watch as local_abort deaths, ss no more;
the rest untouched; --tuple, IPv6; no selector refused. On kernels without
bpf_sock_destroy() (6.1, 5.10 in the matrix) through inet_diag."""
import json
import re
import subprocess

from ka import TCPKAWATCH, Netns, Watch, check, run, same_on_every_kernel, wait_until
from test_keepalive import open_pair

# probes every second, given up only after 127 (the most): probing all
# test long, in a slow guest too
PROBING = ("--idle", 1, "--intvl", 1, "--cnt", 127)
# keepalive on, no probe within the test (one in flight would be selected)
HEALTHY_KA = ("--idle", 600, "--intvl", 1, "--cnt", 3)
BLACKHOLED, IDLE, HEALTHY, IPV6 = 5500, 5501, 5502, 5503


def kill(*args):
    """tcpkawatch kill ARGS --json: (exit code, records, stderr)"""
    p = subprocess.run([TCPKAWATCH, "kill", "--json", *map(str, args)], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, [json.loads(x) for x in p.stdout.splitlines()], p.stderr


def pair(ns, port, *ka, addr="127.0.0.1"):
    """server and client of one connection, alive long enough for a slow
    guest: (server, client, client port)"""
    return open_pair(ns, port, addr, server_args=ka, client_args=ka, lifetime=180)


def connections(ns, probing=False):
    """the (lport, rport) of every established TCP connection of ns, as ss
    sees them; with probing, of those with a keepalive probe out
    (icsk_probes_out, what --probing counts)"""
    out = run("ss", "-Htoen", "state", "established", ns=ns).stdout
    return {(int(x.split()[2].rsplit(":", 1)[1]), int(x.split()[3].rsplit(":", 1)[1]))
            for x in out.splitlines()
            if not probing or re.search(r"timer:\(keepalive,[^,]*,[1-9]", x)}


def ends(port, cport):
    return {(port, cport), (cport, port)}


def rows_of(records):
    return {(r["lport"], r["rport"]) for r in records}


def test_kill():
    with Netns() as ns1, Netns() as ns2, Watch() as w:
        conns = {}
        for ns in (ns1, ns2):
            ns.blackhole_after_handshake(BLACKHOLED)
            peers = {port: pair(ns, port, *ka) for port, ka in
                     ((BLACKHOLED, PROBING), (IDLE, ()), (HEALTHY, HEALTHY_KA))}
            conns[ns.name] = peers
        # both ends of both blackholed connections have a probe out (ss's
        # view: a fraction of a kill's cost, a second of CPU under qemu)
        wait_until(lambda: all(ends(BLACKHOLED, conns[ns.name][BLACKHOLED][2])
                               <= connections(ns, probing=True) for ns in (ns1, ns2)), 60,
                   "four sockets probing")
        rc, dry, err = kill("--probing", 1, "--dry-run")
        want = {(ns.inode, lp, rp) for ns in (ns1, ns2)
                for lp, rp in ends(BLACKHOLED, conns[ns.name][BLACKHOLED][2])}
        check(rc == 0 and {(r["netns"], r["lport"], r["rport"]) for r in dry} == want
              and all("event" not in r and r["probes_out"] >= 1 for r in dry)
              and "4 connection(s) would be closed" in err, f"--dry-run: {rc} {dry} {err}")
        for ns in (ns1, ns2):
            check(ends(BLACKHOLED, conns[ns.name][BLACKHOLED][2]) <= connections(ns),
                  "--dry-run closed nothing")

        # close the blackholed connection of ns1 only
        server, client, cport = conns[ns1.name][BLACKHOLED]
        rc, closed, err = kill("--probing", 1, "-N", ns1.inode)
        check(rc == 0 and rows_of(closed) == ends(BLACKHOLED, cport)
              and all(r["event"] == "kill" and r["result"] == "closed" and r["errno"] is None
                      for r in closed), f"kill: {rc} {closed} {err}")
        how = err.strip().rsplit("(", 1)[-1].rstrip(")")
        check(how in ("bpf_sock_destroy", "inet_diag"), f"how: {err!r}")
        for peer in (server, client):
            e = peer.wait("error", timeout=10)
            check(e["error"] == "ECONNABORTED", f"the application saw {e}")
        deaths = w.wait(lambda e: e["event"] == "death" and e["netns"] == ns1.inode, 10,
                        "two local_abort deaths", count=2)
        check({(d["lport"], d["cause"], d["errno"], d["pid"]) for d in deaths}
              == {(BLACKHOLED, "local_abort", "ECONNABORTED", server.pid),
                  (cport, "local_abort", "ECONNABORTED", client.pid)}, f"deaths {deaths}")
        left1 = connections(ns1)
        check(not ends(BLACKHOLED, cport) & left1, f"ss still shows them: {left1}")
        for port in (IDLE, HEALTHY):
            check(ends(port, conns[ns1.name][port][2]) <= left1, f"port {port} untouched")
        left2 = connections(ns2)
        check(all(ends(port, conns[ns2.name][port][2]) <= left2
                  for port in (BLACKHOLED, IDLE, HEALTHY)), f"ns2 untouched: {left2}")

        # --at-risk: established, no keepalive, silent: the idle one
        rc, dry, _ = kill("--at-risk", 0, "-N", ns2.inode, "--dry-run")
        check(rc == 0 and rows_of(dry) == ends(IDLE, conns[ns2.name][IDLE][2]),
              f"--at-risk: {dry}")

        # --tuple: one end of the idle connection; its peer gets the RST
        cport = conns[ns2.name][IDLE][2]
        rc, closed, _ = kill("-N", ns2.inode, "--tuple", f"127.0.0.1:{cport},127.0.0.1:{IDLE}")
        check(rc == 0 and rows_of(closed) == {(cport, IDLE)}, f"--tuple: {closed}")
        check(conns[ns2.name][IDLE][1].wait("error", timeout=10)["error"] == "ECONNABORTED",
              "the client's application")
        wait_until(lambda: not ends(IDLE, cport) & connections(ns2), 10,
                   "the server's end to go with the RST")
        check(ends(HEALTHY, conns[ns2.name][HEALTHY][2]) <= connections(ns2),
              "the healthy one untouched")

        # IPv6, by tuple
        _, client, cport = pair(ns2, IPV6, addr="::1")
        rc, closed, _ = kill("-N", ns2.inode, "--tuple", f"[::1]:{cport},[::1]:{IPV6}")
        check(rc == 0 and len(closed) == 1 and closed[0]["family"] == 6
              and closed[0]["result"] == "closed", f"IPv6: {closed}")
        check(client.wait("error", timeout=10)["error"] == "ECONNABORTED", "IPv6 client")

        # a tuple that is gone: nothing selected, nothing fails
        rc, closed, err = kill("-N", ns2.inode, "--tuple", f"[::1]:{cport},[::1]:{IPV6}")
        check(rc == 0 and not closed and "0 connection(s) closed" in err, f"gone: {err}")
        check(w.stop() == 0, "watch's exit code")


@same_on_every_kernel
def test_kill_refuses_without_selector():
    """nothing that narrows: refused in one line, exit 2, nothing loaded;
    bad values likewise, each naming its problem"""
    cases = [([], "needs a selector"), (["-4"], "needs a selector"),
             (["--state", "ESTABLISHED"], "needs a selector"), (["--dry-run"], "needs a selector"),
             (["--tuple", "127.0.0.1:1,127.0.0.1:2"], "--tuple needs -N"),
             (["--probing", "0"], "invalid --probing"),
             (["-N", "1", "--tuple", "127.0.0.1:1,[::1]:2"], "invalid --tuple")]
    for args, why in cases:
        p = subprocess.run([TCPKAWATCH, "kill", *args], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
              and why in p.stderr and not p.stdout, f"kill {args}: rc {p.returncode} {p.stderr!r}")
