"""tcpkawatch list against ss, in namespaces the tests make."""
import csv
import io
import json
import os
import subprocess

from ka import SCHEMA, TCPKAWATCH, Netns, Peer, Watch, check, check_schema, run, wait_until
from test_keepalive import open_pair

SS_STATES = {"ESTAB": "ESTABLISHED", "LISTEN": "LISTEN", "TIME-WAIT": "TIME_WAIT",
             "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV", "FIN-WAIT-1": "FIN_WAIT1",
             "FIN-WAIT-2": "FIN_WAIT2", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
             "CLOSING": "CLOSING", "UNCONN": "CLOSE"}


def port_of(endpoint):
    port = endpoint.rsplit(":", 1)[1]
    return 0 if port == "*" else int(port)


def ss_sockets(ns):
    """(state, lport, rport) -> keepalive timer (seconds, count) or None."""
    out = run("ss", "-taioenH", ns=ns).stdout
    merged = []
    for line in out.splitlines():
        if line[:1].isspace() and merged:
            merged[-1] += " " + line.strip()
        else:
            merged.append(line)
    socks = {}
    for line in merged:
        f = line.split()
        key = (SS_STATES[f[0]], port_of(f[3]), port_of(f[4]))
        timer = None
        if "timer:(keepalive," in line:
            t = line.split("timer:(keepalive,", 1)[1].split(")", 1)[0].split(",")
            # "1.2sec", "2min"; iproute2 6.1 labels seconds "ms" ("4.348ms"
            # for 4.348 s): keep both readings of that one
            digits = t[0].rstrip("secmin")
            num = float(digits) if digits else 0.0  # ss prints "" for an expired timer
            secs = {num * 60} if t[0].endswith("min") else {num} if t[0].endswith("sec") \
                else {num, num / 1000}
            timer = (secs, int(t[1]))
        socks[key] = timer
    return socks


def tcpkawatch_list(*args):
    p = subprocess.run([TCPKAWATCH, "list", *map(str, args)], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, f"list {args}: rc {p.returncode} {p.stderr}")
    if "--json" in args or "-j" in args:
        check_schema([json.loads(line) for line in p.stdout.splitlines()], "socket")
    if "--csv" in args:
        header = p.stdout.split("\n", 1)[0].split(",")
        check(header == SCHEMA["records"]["socket"]["keys"], f"CSV header {header}")
    return p.stdout


def list_sockets(records, netns):
    socks = {}
    for r in records:
        if r["netns"] != netns:
            continue
        timer = (r["timer_ms"] / 1000, r["probes_out"]) if r["timer"] == "keepalive" else None
        socks[(r["state"], r["lport"], r["rport"])] = timer
    return socks


def test_list_agrees_with_ss():
    """Two namespaces with the same ports: a probing connection to a
    blackholed peer, an idle one without keepalive, listeners. list sees
    every socket ss sees, with the same states, keepalive timers and
    probe counts. A 60 s interval holds one probe out for the whole test,
    however slow the machine; list's timers lie between ss's before and
    after it."""
    ka = ("--idle", 1, "--intvl", 60, "--cnt", 5)
    with Netns() as a, Netns() as b, Watch() as w:
        pairs = {}
        for ns in (a, b):
            ns.blackhole_after_handshake(5300)
            pairs[ns.name] = (open_pair(ns, 5300, server_args=ka, client_args=ka),
                              open_pair(ns, 5301, server_args=(), client_args=()))
        for ns in (a, b):
            wait_until(lambda ns=ns: sum(1 for t in ss_sockets(ns).values() if t and t[1] == 1)
                       == 2, 10, f"both ends of 5300 in {ns.name} to have one probe out")
        before = {ns.name: ss_sockets(ns) for ns in (a, b)}
        records = [json.loads(line) for line in tcpkawatch_list("--json").splitlines()]
        after = {ns.name: ss_sockets(ns) for ns in (a, b)}
        for ns in (a, b):
            theirs, ours = before[ns.name], list_sockets(records, ns.inode)
            check(set(theirs) == set(ours) == set(after[ns.name]),
                  f"{ns.name}: ss {sorted(theirs)} list {sorted(ours)}")
            for key, timer in theirs.items():
                mine, later = ours[key], after[ns.name][key]
                check((timer is None) == (mine is None) == (later is None),
                      f"{key}: ss {timer} list {mine}")
                if timer:
                    # ss cuts to the ms or, for some versions past 10 s, to
                    # the second; list rounds to the jiffy
                    check(timer[1] == mine[1] == later[1] == 1 and
                          any(t1 - 0.1 <= mine[0] <= t0 + 1 for t0 in timer[0]
                              for t1 in later[0]),
                          f"{key}: ss timer {timer} then {later}, list {mine}")
            (server, client, cport), _ = pairs[ns.name]
            mine = [r for r in records if r["netns"] == ns.inode and r["lport"] == cport]
            check(len(mine) == 1 and mine[0]["pid"] == client.pid and mine[0]["keepalive"]
                  and mine[0]["ka_source"] == "app" and mine[0]["ka_idle_s"] == 1
                  and mine[0]["ka_intvl_s"] == 60 and mine[0]["ka_cnt"] == 5,
                  f"client record {mine}")
            # what the running observer knows: the probe it reported
            seen = [(r["probes_sent"], r["answers"]) for r in records
                    if r["netns"] == ns.inode and 5300 in (r["lport"], r["rport"])
                    and r["state"] == "ESTABLISHED"]
            reported = [e for e in w.events("probe", ns.inode) if 5300 in (e["lport"], e["rport"])]
            check(seen == [(1, 0), (1, 0)] and len(reported) == 2,
                  f"observer's counts {seen}, probe events {len(reported)}")


def test_list_at_risk_and_formats():
    with Netns() as ns:
        ka_pair = open_pair(ns, 5310, server_args=("--idle", 60), client_args=("--idle", 60))
        bare = open_pair(ns, 5311, server_args=(), client_args=())
        run("sleep", "1.2")
        risky = [json.loads(line) for line in
                 tcpkawatch_list("--at-risk", 1, "-N", ns.inode, "--json").splitlines()]
        ports = sorted((r["lport"], r["rport"]) for r in risky)
        check(ports == sorted([(5311, bare[2]), (bare[2], 5311)]), f"at risk: {ports}")
        check(all(not r["keepalive"] and r["silence_ms"] >= 1000 for r in risky), f"{risky}")
        check(all(r["probes_sent"] is None for r in risky), f"no observer runs: {risky}")
        rows = list(csv.reader(io.StringIO(tcpkawatch_list("--csv", "-N", ns.inode))))
        header, body = rows[0], rows[1:]
        check(header[:3] == ["netns", "family", "laddr"] and len(body) >= 6 and
              all(len(r) == len(header) for r in body), f"csv {rows}")
        est = tcpkawatch_list("--state", "established", "-N", ns.inode, "-j").splitlines()
        check(len(est) == 4 and all(json.loads(x)["state"] == "ESTABLISHED" for x in est),
              f"--state: {est}")
        p = subprocess.run([TCPKAWATCH, "list", "--state", "BOGUS"], capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, "bad --state")
        del ka_pair


# Runs argv[1:] with setns(2) failing with EPERM (a seccomp filter, x86_64):
# what a process allowed BPF but not into other namespaces meets (a
# container's root, whose CAP_SYS_ADMIN is over its own user namespace).
WITHOUT_SETNS = """
import ctypes, os, platform, struct, sys
assert platform.machine() == "x86_64"
SETNS, EPERM = 308, 1
prog = b"".join(struct.pack("HBBI", *i) for i in (
    (0x20, 0, 0, 0),                    # A = seccomp_data.nr
    (0x15, 0, 1, SETNS),                # A == setns?
    (0x06, 0, 0, 0x00050000 | EPERM),   # SECCOMP_RET_ERRNO | EPERM
    (0x06, 0, 0, 0x7fff0000)))          # SECCOMP_RET_ALLOW
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0):
    sys.exit(f"seccomp: {os.strerror(ctypes.get_errno())}")
os.execv(sys.argv[1], sys.argv[1:])
"""


def test_list_says_what_it_could_not_enter():
    """Where setns() into another network namespace fails, list still lists
    its own namespace, and says once on stderr how many namespaces it left
    out; unhindered it enters them all and says nothing."""
    with Netns() as ns:
        server = Peer(ns, "server", "--port", 4099, "--lifetime", 120)
        try:
            server.wait("ready", timeout=30)  # listening
            full = subprocess.run([TCPKAWATCH, "list", "--json"], capture_output=True,
                                  text=True, timeout=60)
            check(full.returncode == 0 and "could not" not in full.stderr,
                  f"unhindered: rc {full.returncode} {full.stderr!r}")
            check(any(json.loads(r)["netns"] == ns.inode for r in full.stdout.splitlines()),
                  "unhindered: the namespace's listener is missing")
            mine = os.stat("/proc/self/ns/net").st_ino
            limited = subprocess.run(["python3", "-c", WITHOUT_SETNS, TCPKAWATCH, "list",
                                      "--json"], capture_output=True, text=True, timeout=60)
            said = [line for line in limited.stderr.splitlines() if "could not" in line]
            check(limited.returncode == 0 and len(said) == 1
                  and "network namespace" in said[0] and "Operation not permitted" in said[0],
                  f"without setns: rc {limited.returncode} {limited.stderr!r}")
            listed = {json.loads(r)["netns"] for r in limited.stdout.splitlines()}
            check(listed <= {mine}, f"without setns it listed namespaces {listed}, "
                                    f"its own is {mine}")
        finally:
            server.stop()
