"""Workload identity: sockets of processes in cgroups named as container
runtimes and the kubelet name them carry their cgroup, container_id and
pod_uid in watch's events, the stats file, list and export's metrics; a
removed workload's series go after --forget-after; --max-workloads folds
the rest into "_other", counted."""
import json
import os
import tempfile
import uuid

from ka import TCPKAWATCH, Cgroup, Netns, Peer, TestFailure, Watch, check, run, wait_until
from test_export import Exporter, free_port, get
from test_keepalive import COUNTERS, KA

# ports of the keepalive deaths (blackholed after the handshake) and of
# the connections that stay up, one each per workload
DEATH_PORT, ALIVE_PORT = 5300, 5310


def runtime_cgroups():
    """(cgroup path under the root, container_id, pod_uid) as each names them"""
    ids = [os.urandom(32).hex() for _ in range(4)]
    uids = [str(uuid.uuid4()) for _ in range(2)]
    return [
        # kubelet, systemd driver: '_' in the pod slice's uid
        (f"kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
         f"{uids[0].replace('-', '_')}.slice/cri-containerd-{ids[0]}.scope", ids[0], uids[0]),
        # kubelet, cgroupfs driver
        (f"kubepods/besteffort/pod{uids[1]}/{ids[1]}", ids[1], uids[1]),
        (f"system.slice/docker-{ids[2]}.scope", ids[2], None),
        (f"machine.slice/libpod-{ids[3]}.scope/container", ids[3], None),
    ]


def metric(text, name, **labels):
    """The samples of name whose labels include these, as a list of values"""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            out.append(float(line.rsplit(" ", 1)[1]))
    return out


def start_pair(ns, cg, port, *ka):
    server = Peer(ns, "server", "--port", port, "--lifetime", 120, *ka, cgroup=cg)
    server.wait("ready")
    client = Peer(ns, "client", "--port", port, "--lifetime", 120, *ka, cgroup=cg)
    cport = client.wait("ready")["ready"]
    server.wait("accepted")
    return cport


def test_workload_identity():
    workloads = runtime_cgroups()
    stats = os.path.join(tempfile.mkdtemp(prefix="tkw-wl-"), "stats.json")
    port, capped_port = free_port(), free_port()
    url, capped_url = (f"http://127.0.0.1:{p}/metrics" for p in (port, capped_port))
    cgs = [Cgroup(rel) for rel, _, _ in workloads]
    try:
        for cg in cgs:
            cg.__enter__()
        with Netns() as ns, Watch("-N", ns.inode, "--stats-file", stats) as w, \
                Exporter("--listen", f"127.0.0.1:{port}", "--forget-after", 2,
                         "--labels", "pod_uid,container_id,cgroup") as ex, \
                Exporter("--listen", f"127.0.0.1:{capped_port}", "--max-workloads", 2,
                         "--labels", "container_id"):
            before = ns.nstat(*COUNTERS)
            ns.blackhole_after_handshake(f"{DEATH_PORT}-{DEATH_PORT + len(cgs) - 1}")
            cports, alive_cport = {}, []
            for i, cg in enumerate(cgs):
                cports[DEATH_PORT + i] = start_pair(ns, cg, DEATH_PORT + i, *KA)
                alive_cport.append(start_pair(ns, cg, ALIVE_PORT + i))
            deaths = w.wait(lambda e: e["event"] == "death", 20, "a death a socket",
                            count=2 * len(cgs))
            after = ns.nstat(*COUNTERS)
            probes = w.events("probe")
            check(len(deaths) == after["TcpExtTCPAbortOnTimeout"] - before["TcpExtTCPAbortOnTimeout"]
                  and len(probes) == after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"],
                  f"{len(deaths)} deaths, {len(probes)} probes; nstat {before} -> {after}; "
                  f"probes (lport, number): "
                  f"{sorted((e['lport'], e['unanswered']) for e in probes)}; "
                  f"tcpkawatch's stderr: {''.join(w.err)!r}")
            listed = [json.loads(line) for line in
                      run(TCPKAWATCH, "list", "--json", "-N", str(ns.inode)).stdout.splitlines()]
            for i, (rel, cid, uid) in enumerate(workloads):
                ports = {DEATH_PORT + i, cports[DEATH_PORT + i]}
                want = {"cgroup": "/" + rel, "container_id": cid, "pod_uid": uid}
                for kind, recs in (("death", deaths), ("probe", probes)):
                    mine = [e for e in recs if e["lport"] in ports]
                    check(mine and all({k: e[k] for k in want} == want for e in mine),
                          f"{kind} events of {rel}: {mine}")
                rows = [r for r in listed if ALIVE_PORT + i in (r["lport"], r["rport"])
                        and r["state"] == "ESTABLISHED"]
                check(len(rows) == 2 and all({k: r[k] for k in want} == want for r in rows),
                      f"list rows of {rel}: {rows}")
                # the exporter reads its own ring buffer: wait for it too
                labels = {"cgroup": "/" + rel, "container_id": cid, "pod_uid": uid or ""}
                n_probes = len([e for e in probes if e["lport"] in ports])
                wait_until(lambda: metric(text := get(url), "tcpkawatch_deaths_total",
                                          cause="keepalive", **labels) == [2]
                           and metric(text, "tcpkawatch_keepalive_probes_total", **labels)
                           == [n_probes]
                           and metric(text, "tcpkawatch_established_connections",
                                      keepalive="false", **labels) == [2], 10,
                           f"2 deaths, {n_probes} probes, 2 connections without keepalive in "
                           f"the metrics of {rel}")
            # kill's workload selectors pick exactly the workload's connection
            _, cid, uid = workloads[1]
            for sel in (["--container-id", cid], ["--pod-uid", uid]):
                picked = [json.loads(line) for line in run(
                    TCPKAWATCH, "kill", "--dry-run", "--json", *sel).stdout.splitlines()]
                check({(r["lport"], r["rport"], r["container_id"]) for r in picked}
                      == {(p, q, cid) for p, q in ((ALIVE_PORT + 1, alive_cport[1]),
                                                    (alive_cport[1], ALIVE_PORT + 1))},
                      f"kill --dry-run {sel}: {picked}")
            # the stats file has each dead connection's record as it ended
            wait_until(lambda: len(open(stats).readlines()) >= 2 * len(cgs), 5, "stats records")
            records = [json.loads(line) for line in open(stats)]
            for rel, cid, uid in workloads:
                mine = [r for r in records if r["container_id"] == cid]
                check(len(mine) == 2 and all(r["cgroup"] == "/" + rel and r["pod_uid"] == uid
                                             for r in mine), f"stats records of {rel}: {mine}")
            # past --max-workloads 2: at most two workloads of their own, each
            # with exactly its events, the rest under "_other", counted. The
            # exporter counts the whole machine: another workload's events
            # may take a place or join "_other", never ours.
            def capped_state():
                """what the capped exporter says of our workloads: the events
                of each under its own series (0: folded), "_other"'s and the
                over-limit counter"""
                capped = get(capped_url)
                own = [sum(sum(metric(capped, name, container_id=cid)) for name in
                           ("tcpkawatch_deaths_total", "tcpkawatch_keepalive_probes_total"))
                       for _, cid, _ in workloads]
                other = sum(sum(metric(capped, name, container_id="_other")) for name in
                            ("tcpkawatch_deaths_total", "tcpkawatch_keepalive_probes_total",
                             "tcpkawatch_keepalive_answers_total"))
                over = [float(x.split()[1]) for x in capped.splitlines()
                        if x.startswith("tcpkawatch_workloads_over_limit_total ")]
                return own, other, over

            mine = [len([e for e in deaths + probes
                         if e["lport"] in (DEATH_PORT + i, cports[DEATH_PORT + i])])
                    for i in range(len(workloads))]

            def capped_right():
                own, other, over = capped_state()
                folded_ours = sum(m for o, m in zip(own, mine) if o == 0)
                return (all(o in (0, m) for o, m in zip(own, mine)) and folded_ours > 0
                        and other >= folded_ours and over == [other])
            try:
                wait_until(capped_right, 10, "each workload of ours counted whole or under "
                           "\"_other\", which the over-limit counter counts")
            except TestFailure as e:
                raise TestFailure(f"{e}: ours {mine}; (own, _other, over_limit) "
                                  f"{capped_state()}") from e
            # a workload gone: its sockets closed, its cgroup removed, its
            # series dropped --forget-after (2 s) after its last event
            gone_rel, gone_cid, _ = workloads[0]
            cgs[0].__exit__(None, None, None)
            check(not os.path.isdir(cgs[0].path), "the cgroup was removed")
            wait_until(lambda: gone_cid not in get(url), 15,
                       f"the series of {gone_rel} to go")
            text = get(url)
            check(all(metric(text, "tcpkawatch_deaths_total", container_id=cid) == [2]
                      for _, cid, _ in workloads[1:]), "the live workloads' counters stay")
            check(ex.stop() == 0 and w.stop() == 0, "exit codes")
    finally:
        for cg in reversed(cgs):
            cg.__exit__(None, None, None)
