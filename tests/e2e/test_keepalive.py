"""Keepalive probes, answers and keepalive deaths, against nstat."""
import json
import os
import shutil
import signal
import tempfile

from ka import (HeldConns, Netns, Peer, TestFailure, Watch, check, check_schema, run, sysctl,
                wait_until)

KA = ("--idle", 1, "--intvl", 1, "--cnt", 2)
COUNTERS = ("TcpExtTCPKeepAlive", "TcpExtTCPAbortOnTimeout")


def open_pair(ns, port, addr="127.0.0.1", server_args=KA, client_args=KA, lifetime=30):
    server = Peer(ns, "server", "--addr", addr, "--port", port, "--lifetime", lifetime,
                  *server_args)
    server.wait("ready")
    client = Peer(ns, "client", "--addr", addr, "--port", port, "--lifetime", lifetime,
                  *client_args)
    cport = client.wait("ready")["ready"]
    server.wait("accepted")
    return server, client, cport


def blackholed_keepalive_death(addr):
    """Both ends idle 1 s, interval 1 s, count 2; then every packet dropped."""
    with Netns() as ns, Watch("-N", ns.inode) as w:
        before = ns.nstat(*COUNTERS)
        ns.blackhole_after_handshake(5000)
        server, client, cport = open_pair(ns, 5000, addr)
        try:
            deaths = w.wait(lambda e: e["event"] == "death", 15, "two deaths", count=2)
        except TestFailure as e:
            raise TestFailure(f"{e}; events {w.events()}; nstat {ns.nstat(*COUNTERS)}; "
                              f"ss {run('ss', '-tioen', ns=ns).stdout!r}; "
                              f"nft {run('nft', 'list', 'ruleset', ns=ns).stdout!r}") from e
        for p in (server, client):
            err = p.wait("error", timeout=10)
            check(err["error"] == "ETIMEDOUT", f"application saw {err}")
        after = ns.nstat(*COUNTERS)
        check(w.stop() == 0, "tcpkawatch exit code")
        probes = w.events("probe")
        ka_delta = after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"]
        abort_delta = after["TcpExtTCPAbortOnTimeout"] - before["TcpExtTCPAbortOnTimeout"]
        check(len(probes) == ka_delta,
              f"{len(probes)} probe events, TcpExtTCPKeepAlive +{ka_delta}; events: "
              + "; ".join(f"{e.get('ts', 0):.3f} {e.get('event')} {e.get('lport')} "
                          f"{e.get('unanswered')} {e.get('probes_sent')}" for e in w.events())
              + f"; stderr: {''.join(w.err)!r}")
        check(len(deaths) == abort_delta == 2, f"deaths {len(deaths)}, aborts +{abort_delta}")
        family = 6 if ":" in addr else 4
        by_port = {d["lport"]: d for d in deaths}
        check(set(by_port) == {5000, cport}, f"death ports {sorted(by_port)}")
        for lport, rport, peer in ((5000, cport, server), (cport, 5000, client)):
            d = by_port[lport]
            check(d["cause"] == "keepalive" and d["errno"] == "ETIMEDOUT",
                  f"cause {d['cause']} {d['errno']}")
            check(d["rport"] == rport and d["netns"] == ns.inode and d["family"] == family,
                  f"tuple/netns {d}")
            check(d["laddr"] == addr and d["raddr"] == addr, f"addresses {d}")
            check(d["pid"] == peer.pid and d["comm"] == "python3", f"owner {d}")
            check(d["state"] == "ESTABLISHED" and d["unanswered"] == 2, f"state/probes {d}")
            check(d["ka_source"] == "app", f"ka_source {d}")
            check(2500 <= d["silence_ms"] <= 4500, f"silence {d['silence_ms']} ms")
            # jiffies (silence) against ktime (lifetime): one tick of slack
            check(d["lifetime_ms"] + 10 >= d["silence_ms"], f"lifetime {d}")
            side = [p for p in probes if p["lport"] == lport]
            check([p["unanswered"] for p in side] == [1, 2], f"probe numbers {side}")
            check(all(p["ka_cnt"] == 2 and p["ka_idle_s"] == 1 and p["ka_intvl_s"] == 1
                      and p["pid"] == peer.pid for p in side), f"probe fields {side}")
        summary = w.events("connection")
        check(len(summary) == 2 and all(s["end"] == "death" and s["cause"] == "keepalive"
                                        and s["probes_sent"] == 2 for s in summary),
              f"summary {summary}")


def test_keepalive_death_ipv4():
    blackholed_keepalive_death("127.0.0.1")


def test_keepalive_death_ipv6():
    blackholed_keepalive_death("::1")


def test_keepalive_answered():
    """Peer alive: probes go out, each is answered, nobody dies."""
    with Netns() as ns, Watch("-N", ns.inode) as w:
        ns.count_bare_acks(5001)
        before = ns.nstat(*COUNTERS)
        server, client, cport = open_pair(ns, 5001, server_args=(), client_args=KA)
        answers = w.wait(lambda e: e["event"] == "answered", 10, "three answers", count=3)
        after = ns.nstat(*COUNTERS)
        sent = ns.bare_acks() - 1  # less the handshake's
        server.stop()
        client.stop()
        ns.wait_no_connections()
        check(w.stop() == 0, "tcpkawatch exit code")
        probes = w.events("probe")
        ka_delta = after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"]
        # Probes sent after the last nstat read are allowed to follow it.
        check(len(probes) >= ka_delta >= 3,
              f"{len(probes)} probes, nstat +{ka_delta}, {sent} sent then; events: "
              + "; ".join(f"{e['ts']:.3f} {e['event']} {e.get('unanswered')}"
                          for e in w.events() if e["event"] in ("probe", "answered"))
              + f"; stderr: {''.join(w.err)!r}")
        check(all(p["unanswered"] == 1 and p["lport"] == cport for p in probes), f"probes {probes}")
        check(all(a["unanswered"] == 1 and a["pid"] == client.pid for a in answers),
              f"answers {answers}")
        check(not w.events("death"), f"deaths {w.events('death')}")
        summary = w.events("connection")
        check(len(summary) == 1 and summary[0]["end"] == "closed"
              and summary[0]["answers"] >= 3, f"summary {summary}")


def read_records(path):
    """The whole lines of a stats file (a half line would fail json)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_stats_file():
    """--stats-file: each connection's record as it ends, in the file while
    tcpkawatch runs; SIGHUP reopens it (logrotate); a SIGKILL loses nothing
    that had ended."""
    tmp = tempfile.mkdtemp(prefix="tkw-stats-")
    path, rotated = os.path.join(tmp, "conns.jsonl"), os.path.join(tmp, "conns.jsonl.1")
    try:
        with Netns() as ns, Watch("-N", ns.inode, "--stats-file", path) as w:
            ns.blackhole_after_handshake(5020)
            dead = open_pair(ns, 5020)
            alive = open_pair(ns, 5021, server_args=(), client_args=KA)
            w.wait(lambda e: e["event"] == "death", 15, "two deaths", count=2)
            records = wait_until(lambda: len(read_records(path)) == 2 and read_records(path), 5,
                                 "both deaths' records in the file while tcpkawatch runs")
            by_port = {r["lport"]: r for r in records}
            check(set(by_port) == {5020, dead[2]}, f"records {records}")
            for r in records:
                check(r["end"] == "death" and r["cause"] == "keepalive" and r["probes_sent"] == 2
                      and r["ka_idle_s"] == 1 and r["ka_cnt"] == 2 and r["ka_source"] == "app",
                      f"death record {r}")
            os.rename(path, rotated)
            w.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: os.path.exists(path), 5, "SIGHUP to reopen the stats file")
            w.wait(lambda e: e["event"] == "answered", 10, "an answer")
            alive[1].stop()
            alive[0].stop()
            ns.wait_no_connections()
            closed = wait_until(lambda: read_records(path), 5, "the closed record in the new file")
            check(len(closed) == 1 and closed[0]["end"] == "closed" and closed[0]["answers"] >= 1
                  and closed[0]["pid"] == alive[1].pid, f"closed record {closed}")
            w.proc.kill()
            w.proc.wait(timeout=10)
        check(len(read_records(rotated)) == 2 and len(read_records(path)) == 1,
              "the records kept after SIGKILL")
        check_schema(read_records(rotated) + read_records(path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_stats_to_stdout():
    """--stats-file - with --json: the records among the events as each
    connection ends; the summary at exit does not repeat them."""
    with Netns() as ns, Watch("-N", ns.inode, "--stats-file", "-") as w:
        ns.blackhole_after_handshake(5022)
        open_pair(ns, 5022)
        w.wait(lambda e: e["event"] == "connection", 15, "both records before the end", count=2)
        ns.wait_no_connections()
        check(w.stop() == 0, "exit code")
    kinds = [e["event"] for e in w.events() if e["event"] in ("death", "connection", "summary")]
    check(kinds.count("connection") == 2 and kinds[-1] == "summary"
          and kinds.index("death") < kinds.index("connection"), f"order {kinds}")
    summary = w.events("summary")[0]
    check(summary["connections"] == 2 and summary["not_shown"] == 2, f"summary {summary}")

def test_ring_buffer_losses_counted():
    """A ring buffer of one page and 2,000 first probes within milliseconds:
    most records cannot fit. Each probe the kernel sent (nstat) is either
    an event or counted lost, never both, never neither; the loss is
    reported on stderr and in the `lost` record at exit."""
    conns, probes = 1000, 2000
    with Netns({"net.ipv4.ip_local_port_range": "8000 65000"}) as ns, \
            Watch("-N", ns.inode, "--ringbuf-size", "4K") as w:
        before = ns.nstat(COUNTERS[0])[COUNTERS[0]]
        for port in (5400, 5401):
            ns.blackhole_after_handshake(port)  # no answers: nothing but the first probes
        # the first probe after 3 s, the next one only after 60 s
        with HeldConns(ns, conns, (5400, 5401), "3,60", "together") as held:
            held.ready()
            wait_until(lambda: ns.nstat(COUNTERS[0])[COUNTERS[0]] - before >= probes, 20,
                       f"{probes} probes (nstat)")
            sent = ns.nstat(COUNTERS[0])[COUNTERS[0]] - before
            check(w.stop(allow_loss=True) == 0, "exit code")
        seen = len(w.events("probe"))
        lost = w.events("lost")
        check(len(lost) == 1 and lost[0]["untracked_connections"] == 0 and
              lost[0]["hook_misses"] == 0, f"lost record {lost}")
        check(sent == probes and lost[0]["ringbuf_lost"] > 0 and
              seen + lost[0]["ringbuf_lost"] == sent,
              f"nstat {sent} probes, {seen} events + {lost[0]['ringbuf_lost']} lost")
        check(any("warning: lost so far" in line for line in w.err),
              f"no warning on stderr: {w.err}")


def tcp_sockets_max():
    """What the kernel's connection table is sized by: fs.file-max, at most
    one per 4 KiB of memory, plus net.ipv4.tcp_max_orphans"""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4096
    return min(sysctl("fs/file-max"), memory) + sysctl("net/ipv4/tcp_max_orphans")


def test_connection_table_sized_and_overflow_counted():
    """The kernel's connection table holds as many TCP sockets as the
    system can (the map's max_entries, as bpftool shows it); with
    --max-connections 10, the sockets of 30 held connections that find it
    full are counted as untracked (at least 60 - 10; other connections of
    the machine may take slots too), warned about and reported at exit."""
    with Watch() as w:
        want = tcp_sockets_max()
        entries = w.bpf_map("conns")["max_entries"]
        check(entries == want, f"table of {entries} entries, the system holds {want}")
        w.stop()
    with Netns() as ns, Watch("-N", ns.inode, "--max-connections", 10) as w:
        check(w.bpf_map("conns")["max_entries"] == 10, "--max-connections 10 not applied")
        with HeldConns(ns, 30, (5450,)) as held:
            held.ready()
            wait_until(lambda: any("warning: lost so far" in line for line in w.err), 10,
                       "the warning of untracked connections on stderr")
            check(w.stop(allow_loss=True) == 0, "exit code")
        lost = w.events("lost")
        check(len(lost) == 1 and lost[0]["untracked_connections"] >= 50 and
              lost[0]["ringbuf_lost"] == 0 and lost[0]["hook_misses"] == 0,
              f"lost record {lost}, 60 sockets in a table of 10")


def test_probes_of_both_ends_at_once():
    """Both ends of 300 connections probe each second at the same moment,
    each end's timer on its own CPU: the peer's probe, processed on the
    other CPU as soon as the keepalive callback unlocks the socket, puts
    icsk_probes_out back to 0 (tcp_ack()) before timer_expire_exit. Every
    probe must still be an event, equal to TcpExtTCPKeepAlive."""
    if len(os.sched_getaffinity(0)) < 2:
        raise TestFailure("needs 2 CPUs")
    with Netns() as ns, Watch("-N", ns.inode, events_file=True) as w:
        before = ns.nstat(COUNTERS[0])[COUNTERS[0]]
        with HeldConns(ns, 300, (5500,), 1, "split") as held:
            held.ready()
            wait_until(lambda: ns.nstat(COUNTERS[0])[COUNTERS[0]] - before >= 3000, 30,
                       "3000 probes (nstat)")
        ns.wait_no_connections()
        sent = ns.nstat(COUNTERS[0])[COUNTERS[0]] - before
        try:
            wait_until(lambda: len(w.events("probe")) >= sent, 10, f"{sent} probe events")
        except TestFailure:
            pass  # the count below says how many came
        check(w.stop() == 0, "exit code")
        check(len(w.events("probe")) == sent,
              f"{len(w.events('probe'))} probe events, TcpExtTCPKeepAlive +{sent}; "
              f"stderr: {''.join(w.err)!r}")
