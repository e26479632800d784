"""deploy/: the Kubernetes manifests, the alert rules and the Grafana
dashboard, without a cluster. The rules pass promtool's check and its unit
tests (deploy/prometheus/tcpkawatch-rules.test.yml), and the
PrometheusRule is the rule file's groups, as its script makes it. The
manifests are parsed and checked for what running tcpkawatch on a node
takes. The DaemonSets' commands run here with exactly the capabilities
their manifests grant (root's uid, as in the container): the exporter,
after a real keepalive death, answered probes and a connection without
keepalive in a namespace of the test's own, is scraped by a real
Prometheus that loads the rule file, and every PromQL expression of the
rules and of the dashboard must parse there and, but for the pod-name
join (no kube-state-metrics here) and the metrics export does not have
yet, return data; the enforcer sets the manifest's policy on a new
connection in a cgroup that stands for kubepods.slice."""
import json
import os
import re
import subprocess
import tempfile

import yaml

from ka import (ROOT, TCPKAWATCH, Cgroup, Netns, Prometheus, Watch, check, run,
                same_on_every_kernel, wait_until)
from test_caps import NEEDS
from test_enforce import pair
from test_export import free_port
from test_keepalive import COUNTERS, open_pair

DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
RULES = os.path.join(DEPLOY, "prometheus", "tcpkawatch-rules.yml")
RULES_TEST = os.path.join(DEPLOY, "prometheus", "tcpkawatch-rules.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "tcpkawatch-dashboard.json")
NODE = "node-under-test"  # the node label the PodMonitor's relabeling gives
# Grafana's variables as the test's Prometheus (a scrape a second) needs them
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h",
                "${datasource}": "", "$datasource": "", "$node": NODE}
# the join to kube-state-metrics' pod names, as the dashboard writes it
JOIN = re.compile(r'\s*\*\s*on\s*\(pod_uid\)\s*group_left\s*\([^)]*\)\s*label_replace\('
                  r'(?:max by \([^)]*\) \()?kube_pod_info\)?,\s*"pod_uid",\s*"\$1",\s*"uid",\s*'
                  r'"\(\.\*\)"\)')
# an alert's threshold: "> 5", "== 0" before the end or an "or"
THRESHOLD = re.compile(r"\s*(?:>|>=|==|<|<=)\s*[0-9.]+(?=\s*(?:$|\bor\b))", re.M)


def manifests():
    """Every object of deploy/kubernetes/*.yaml: {(kind, name): object}"""
    objs = {}
    for fname in sorted(os.listdir(K8S)):
        if fname.endswith(".yaml"):
            with open(os.path.join(K8S, fname)) as f:
                for doc in yaml.safe_load_all(f):
                    if doc:
                        key = (doc["kind"], doc["metadata"]["name"])
                        check(key not in objs, f"{key} twice")
                        objs[key] = doc
    return objs


def daemonsets():
    objs = manifests()
    return (objs[("DaemonSet", "tcpkawatch-export")], objs[("DaemonSet", "tcpkawatch-enforce")])


def arg_after(args, option):
    check(option in args, f"{option} not in {args}")
    return args[args.index(option) + 1]


def caps_of(container):
    """The capabilities the manifest adds, as CAP_ names"""
    return ["CAP_" + c for c in container["securityContext"]["capabilities"]["add"]]


def needs(command):
    """What tcpkawatch(8) says, and test_caps.py checks, the command needs"""
    return next(v for (what, _), v in NEEDS.items() if what == command)


def quantity(q):
    """A Kubernetes quantity (memory in bytes, CPU in cores)"""
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|k|M|G)?", str(q))
    check(m, f"quantity {q!r}")
    mult = {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6,
            "G": 1e9}[m.group(2)]
    return float(m.group(1)) * mult


@same_on_every_kernel
def test_deploy_rules_promtool():
    """promtool check rules, promtool test rules (each alert firing and not
    firing on the series the test file writes); the PrometheusRule is what
    gen-prometheusrule.sh makes of the rule file; each alert has a for:, a
    severity and a summary and a description."""
    for cmd in (["promtool", "check", "rules", RULES], ["promtool", "test", "rules", RULES_TEST]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and "SUCCESS" in p.stdout,
              f"{' '.join(cmd)}: rc {p.returncode}\n{p.stdout}\n{p.stderr}")
    with open(RULES) as f:
        groups = yaml.safe_load(f)["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    check({a["alert"] for a in alerts} == {
        "TcpkawatchTimeoutDeathsRising", "TcpkawatchConnectionsWithoutKeepalive",
        "TcpkawatchLostEvents", "TcpkawatchNetnsSkipped", "TcpkawatchDown"},
        f"alerts {[a['alert'] for a in alerts]}")
    with open(RULES_TEST) as f:
        tested = {t["alertname"] for c in yaml.safe_load(f)["tests"] for t in c["alert_rule_test"]
                  if t.get("exp_alerts")}
    check(tested == {a["alert"] for a in alerts}, f"alerts never tested firing: "
          f"{ {a['alert'] for a in alerts} - tested}")
    for a in alerts:
        check(a.get("for") and a["labels"].get("severity") in ("info", "warning", "critical")
              and a["annotations"].get("summary") and a["annotations"].get("description"),
              f"{a['alert']}: for, severity, summary, description")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "prometheusrule.yaml")
        run(os.path.join(K8S, "gen-prometheusrule.sh"), out)
        with open(out) as f, open(os.path.join(K8S, "prometheusrule.yaml")) as g:
            check(f.read() == g.read(), "deploy/kubernetes/prometheusrule.yaml differs from what "
                  "gen-prometheusrule.sh makes of the rule file: run it")
    rule = manifests()[("PrometheusRule", "tcpkawatch")]
    check(rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["spec"]["groups"] == groups,
          "the PrometheusRule's groups are not the rule file's")


@same_on_every_kernel
def test_deploy_manifests():
    """The DaemonSets, the PodMonitor and the namespace: what running
    tcpkawatch on every node takes, and nothing it does not."""
    objs = manifests()
    ns = objs[("Namespace", "tcpkawatch")]
    check(ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
          "Pod Security: hostPID and host paths need the privileged level")
    sa = objs[("ServiceAccount", "tcpkawatch")]
    check(sa.get("automountServiceAccountToken") is False, "the service account's token")
    check(not [k for k in objs if k[0] in ("Role", "ClusterRole", "RoleBinding",
                                            "ClusterRoleBinding")], "RBAC: no API calls")
    for (kind, name), obj in objs.items():
        if kind != "Namespace":
            check(obj["metadata"].get("namespace") == "tcpkawatch", f"{kind} {name}: namespace")

    with open(os.path.join(ROOT, "user", "args.h")) as f:
        version = re.search(r'#define TCPKAWATCH_VERSION "([^"]+)"', f.read()).group(1)
    export, enforce = daemonsets()
    for ds in (export, enforce):
        name = ds["metadata"]["name"]
        spec = ds["spec"]["template"]["spec"]
        check(ds["spec"]["selector"]["matchLabels"].items()
              <= ds["spec"]["template"]["metadata"]["labels"].items(), f"{name}: selector")
        check(spec["serviceAccountName"] == "tcpkawatch"
              and spec.get("automountServiceAccountToken") is False, f"{name}: service account")
        check({"operator": "Exists"} in spec["tolerations"], f"{name}: tolerations of every taint")
        check(not spec.get("hostNetwork"), f"{name}: hostNetwork")
        (c,) = spec["containers"]
        check(c["image"] == f"tcpkawatch:{version}", f"{name}: image {c['image']}, version {version}")
        res = c["resources"]
        for what in ("cpu", "memory"):
            check(quantity(res["requests"][what]) <= quantity(res["limits"][what]),
                  f"{name}: {what} requests and limits")
        sc = c["securityContext"]
        check(not sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False
              and sc["capabilities"]["drop"] == ["ALL"] and sc.get("runAsUser") == 0,
              f"{name}: securityContext {sc}")
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {}
        for m in c["volumeMounts"]:
            host = volumes[m["name"]]["hostPath"]["path"]
            check(host == m["mountPath"] and m.get("readOnly") is True,
                  f"{name}: {m} of {host}")
            mounts[host] = m
        check(set(mounts) == {"/sys/kernel/btf", "/sys/fs/cgroup"}, f"{name}: mounts {mounts}")

    spec = export["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    check(spec.get("hostPID") is True, "export: hostPID (every process's network namespace)")
    check(sorted(caps_of(c)) == sorted(needs("export")),
          f"export's capabilities {caps_of(c)}, tcpkawatch(8) says {needs('export')}")
    args = c["args"]
    check(args[0] == "export" and arg_after(args, "--labels") == "pod_uid,container_id",
          f"export's args {args}")
    port = int(arg_after(args, "--listen").rsplit(":", 1)[1])
    check(arg_after(args, "--listen") == f"0.0.0.0:{port}", "export listens on the pod's address")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports == {"metrics": port}, f"ports {ports}")
    for probe in ("livenessProbe", "startupProbe"):
        get_ = c[probe]["httpGet"]
        check(get_["path"] == "/healthz" and get_["port"] in ("metrics", port), f"{probe} {get_}")
    ann = export["spec"]["template"]["metadata"]["annotations"]
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
          and ann.get("prometheus.io/path") == "/metrics", f"scrape annotations {ann}")
    check(quantity(c["resources"]["limits"]["memory"]) >= 64 * 2**20, "export's memory limit "
          "under its measured peak (38 MiB) and table")

    spec = enforce["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    check(not spec.get("hostPID"), "enforce: no hostPID without --existing")
    check(c["args"][0] == "enforce" and "--pin" not in c["args"], f"enforce's args {c['args']}")
    check(arg_after(c["args"], "--cgroup") == "/sys/fs/cgroup/kubepods.slice",
          "enforce scoped to kubepods.slice")
    check(sorted(caps_of(c)) == sorted(needs("enforce")),
          f"enforce's capabilities {caps_of(c)}, tcpkawatch(8) says {needs('enforce')}")
    roll = enforce["spec"]["updateStrategy"]["rollingUpdate"]
    check(roll == {"maxSurge": 1, "maxUnavailable": 0}, f"enforce's update: {roll}")

    pm = objs[("PodMonitor", "tcpkawatch")]
    labels = export["spec"]["template"]["metadata"]["labels"]
    check(pm["spec"]["selector"]["matchLabels"].items() <= labels.items(), "PodMonitor's selector")
    check(labels.get(pm["spec"]["jobLabel"]) == "tcpkawatch", "PodMonitor's job label: "
          "the rules' job=\"tcpkawatch\"")
    (ep,) = pm["spec"]["podMetricsEndpoints"]
    check(ep["port"] == "metrics" and ep["path"] == "/metrics", f"PodMonitor's endpoint {ep}")
    check({"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
          in ep["relabelings"], "PodMonitor: the node label")
    dashboard_queries()  # the dashboard's shape


def dashboard_queries():
    """(where, PromQL) of every query of the dashboard, variables
    substituted; checks the dashboard's shape on the way."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    check(variables["datasource"]["type"] == "datasource"
          and variables["datasource"]["query"] == "prometheus", "datasource variable")
    ds = {"type": "prometheus", "uid": "${datasource}"}
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    titles = " / ".join(p["title"] for p in panels)
    for topic in ("Deaths by cause", "probes", "At-risk", "without keepalive", "Losses"):
        check(topic in titles, f"no panel about {topic!r}: {titles}")
    queries = []
    for p in panels:
        check(p["datasource"] == ds, f"panel {p['title']}: datasource {p['datasource']}")
        check(p["targets"], f"panel {p['title']}: no query")
        for t in p["targets"]:
            check(t["datasource"] == ds, f"panel {p['title']}: a query's datasource")
            queries.append((f"panel {p['title']!r}", t["expr"]))
    ids = [p["id"] for p in dash["panels"]]
    check(len(ids) == len(set(ids)), "panel ids twice")
    return [(n, subst(e)) for n, e in queries], variables["node"]


def subst(expr):
    """Grafana's variables replaced; "$1" is label_replace()'s"""
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    check("$" not in expr.replace('"$1"', ""), f"a variable left in {expr}")
    return expr


def rule_queries():
    with open(RULES) as f:
        return [(f"alert {r['alert']}", r["expr"].strip())
                for g in yaml.safe_load(f)["groups"] for r in g["rules"]]


class Command(Watch):
    """A DaemonSet's command as its container runs it: root's uid, exactly
    the capabilities the manifest adds in the bounding set (all others
    dropped), no new privileges (allowPrivilegeEscalation: false), and an
    unlimited RLIMIT_MEMLOCK where this process may give it (runtimes
    start containers with their own, often unlimited)."""

    def __init__(self, caps, args, nnp):
        names = "".join(f",+{c[4:].lower()}" for c in caps)
        memlock = subprocess.run(["prlimit", "--memlock=unlimited", "true"],
                                 capture_output=True).returncode == 0
        self.args = ((["prlimit", "--memlock=unlimited"] if memlock else [])
                     + ["setpriv", f"--inh-caps=-all{names}", f"--ambient-caps=-all{names}",
                        f"--bounding-set=-all{names}"]
                     + (["--no-new-privs"] if nnp else []) + [TCPKAWATCH, *args])


def container_command(ds, replace):
    """The DaemonSet's container's (capabilities, args, no_new_privs), its
    args' values changed as replace says ({option: value})"""
    (c,) = ds["spec"]["template"]["spec"]["containers"]
    args = list(c["args"])
    for option, value in replace.items():
        args[args.index(option) + 1] = value
    sc = c["securityContext"]
    return caps_of(c), args, sc.get("allowPrivilegeEscalation") is False


def test_deploy_queries_prometheus():
    """export as the DaemonSet runs it (its args, its capabilities; on
    loopback), scraped every second by a real Prometheus that loads the
    rule file, after two keepalive deaths (nstat's aborts), answered probes and
    a connection without keepalive: every expression of the rules and of
    the dashboard parses and evaluates; each returns data (the pod-name
    join checked without it: no kube-state-metrics here); every rule
    evaluates without error."""
    export, _ = daemonsets()
    dash, node_var = dashboard_queries()
    queries = rule_queries() + dash
    port = free_port()
    # --labels as the DaemonSet gives it, and netns to tell this test's
    # namespace from the machine's (no pods here)
    caps, args, nnp = container_command(export, {"--listen": f"127.0.0.1:{port}",
                                                 "--labels": "pod_uid,container_id,netns"})
    job = f"static_configs:\n  - targets: ['127.0.0.1:{port}']\n    labels: {{node: {NODE}}}"
    with Netns() as ns, Command(caps, args, nnp) as ex, Prometheus(job, [RULES]) as prom:
        before = ns.nstat(*COUNTERS)
        ns.blackhole_after_handshake(5450)
        open_pair(ns, 5450)  # probes after 1 s, dead after 2 unanswered a side
        open_pair(ns, 5451)  # probes answered every second
        open_pair(ns, 5452, server_args=(), client_args=())  # no keepalive
        # Prometheus' first scrape comes seconds after it starts (its
        # discovery's 5 s): meanwhile the connections above live and die
        check(wait_until(lambda: prom.value('up{job="tcpkawatch"}'), 60,
                         "Prometheus' first scrape of export") == 1, "export is up")
        sel = f'netns="{ns.inode}"'
        wait_until(lambda: prom.value(
            f'sum(tcpkawatch_deaths_total{{{sel},cause="keepalive",errno="ETIMEDOUT"}})')
            == 2, 30, "two keepalive deaths in Prometheus")
        wait_until(lambda: prom.value(f"sum(tcpkawatch_keepalive_answers_total{{{sel}}})"), 15,
                   "answered probes in Prometheus")
        wait_until(lambda: prom.value(f'sum(tcpkawatch_established_connections'
                                 f'{{{sel},keepalive="false"}})') == 2, 15,
                   "the connection without keepalive in Prometheus")
        # the kernel's counters: the two deaths, and at least the
        # probes Prometheus has (the answered pair goes on probing)
        probes = prom.value(f"sum(tcpkawatch_keepalive_probes_total{{{sel}}})")
        after = ns.nstat(*COUNTERS)
        check(after["TcpExtTCPAbortOnTimeout"] - before["TcpExtTCPAbortOnTimeout"] == 2,
              f"nstat's aborts: {before} {after}")
        check(4 <= probes <= after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"],
              f"probes: Prometheus {probes}, nstat {before} {after}")
        status, names = prom.api("label/__name__/values")
        scraped = {n for n in names if n.startswith("tcpkawatch_")}
        for name in ("tcpkawatch_deaths_total", "tcpkawatch_keepalive_probes_total",
                     "tcpkawatch_keepalive_answers_total",
                     "tcpkawatch_established_connections",
                     "tcpkawatch_probing_connections", "tcpkawatch_ringbuf_lost_total"):
            check(name in scraped, f"{name} not scraped: {sorted(scraped)}")

        failures = []
        for where, q in queries:
            status, data = prom.api("query", query=q)
            if status != "success":
                failures.append(f"{where}: {data}: {q}")
                continue
            bare = THRESHOLD.sub("", JOIN.sub("", q))
            status, data = prom.api("query", query=bare)
            if status != "success":
                failures.append(f"{where}, without threshold and join: {data}: {bare}")
                continue
            # a name the query uses must be scraped: a misspelt one fails
            named = set(re.findall(r"tcpkawatch_\w+", bare)) - {"tcpkawatch_"}
            if named - scraped:
                failures.append(f"{where}: {sorted(named - scraped)} not scraped: {bare}")
                continue
            if not wait_until_or_none(lambda: prom.result(bare), 15):
                failures.append(f"{where}: no data: {bare}")
        check(not failures, "queries:\n  " + "\n  ".join(failures))
        values = prom.api("label/node/values",
                     **{"match[]": node_var["query"]["query"].split("(", 1)[1]
                        .split(",")[0]})[1]
        check(values == [NODE], f"the node variable's values: {values}")

        def rules():
            status, data = prom.api("rules")
            rs = [r for g in (data or {}).get("groups", []) for r in g["rules"]]
            return rs if rs and all(not r["lastEvaluation"].startswith("0001")
                                    for r in rs) else None
        rs = wait_until(rules, 15, "every rule evaluated")
        check(len(rs) == len(rule_queries())
              and all(r["health"] == "ok" and not r.get("lastError") for r in rs),
              "rules in Prometheus: "
              + str([(r["name"], r["health"], r.get("lastError")) for r in rs]))
        down = [a for a in prom.api("alerts")[1]["alerts"] if a["labels"]["alertname"]
                == "TcpkawatchDown"]
        check(not down, f"TcpkawatchDown with the exporter up: {down}")
        check(ex.stop("SIGTERM") == 0, f"export's exit code on SIGTERM: {''.join(ex.err)}")


def wait_until_or_none(pred, timeout):
    try:
        return wait_until(pred, timeout, "")
    except AssertionError:
        return None


def test_deploy_enforce_command():
    """enforce as its DaemonSet runs it (its args, its capabilities), with
    --cgroup a cgroup of the test's own for kubepods.slice: a connection
    made in it by a program that sets no keepalive has the manifest's
    policy on both ends; one made outside has none."""
    _, enforce = daemonsets()
    with Netns() as ns, Cgroup() as cg:
        caps, args, nnp = container_command(enforce, {"--cgroup": cg.path})
        policy = [1] + [int(arg_after(args, o)) for o in ("--idle", "--intvl", "--cnt")] + [0]
        with Command(caps, args, nnp) as e:
            _, _, ska, cka = pair(ns, 5460, cg)
            check(ska == policy and cka == policy,
                  f"in the cgroup: server {ska}, client {cka}, the manifest's policy {policy}")
            _, _, ska, cka = pair(ns, 5461)
            check(ska[0] == 0 and cka[0] == 0, f"outside the cgroup: {ska} {cka}")
            # the kubelet stops a container with SIGTERM
            check(e.stop("SIGTERM") == 0, f"enforce's exit code on SIGTERM: {''.join(e.err)}")
