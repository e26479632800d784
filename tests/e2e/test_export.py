"""tcpkawatch export, scraped by a real Prometheus server on loopback."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
import urllib.request

from ka import SCHEMA, Netns, Watch, TCPKAWATCH, check, wait_until
from test_keepalive import COUNTERS, KA, open_pair


class Exporter(Watch):
    def __init__(self, *args):
        self.args = [TCPKAWATCH, "export", *map(str, args)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def sample(text, name, **labels):
    """The value of one series in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_export_scraped_by_prometheus():
    port, prom_port = free_port(), free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    tmp = tempfile.mkdtemp(prefix="tkw-prom-")
    prom = None
    try:
        with Netns() as ns, Exporter("--listen", f"127.0.0.1:{port}", "--per-connection", 10):
            before = ns.nstat(*COUNTERS)
            ns.blackhole_after_handshake(5400)
            open_pair(ns, 5400)
            open_pair(ns, 5401, server_args=(), client_args=())
            wait_until(lambda: sample(get(metrics_url), "tcpkawatch_established_connections",
                                      netns=ns.inode, keepalive="false") == 2, 5,
                       "a first scrape with the connection without keepalive")
            wait_until(lambda: sample(get(metrics_url), "tcpkawatch_deaths_total", netns=ns.inode,
                                      cause="keepalive", errno="ETIMEDOUT") == 2, 15,
                       "two keepalive deaths in the metrics")
            after = ns.nstat(*COUNTERS)
            probes = after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"]
            text = get(metrics_url)
            check(text.strip(), "empty /metrics")
            labels = {kv.split("=", 1)[0] for line in text.splitlines() if "{" in line
                      and not line.startswith("#")
                      for kv in line.split("{", 1)[1].rsplit("}", 1)[0].split('",')} - {"version"}
            check(labels <= set(SCHEMA["metric_labels"]),
                  f"labels not in doc/schema.json: {labels - set(SCHEMA['metric_labels'])}")
            lint = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                                  capture_output=True, timeout=30)
            check(lint.returncode == 0 and not lint.stdout.strip() and not lint.stderr.strip(),
                  f"promtool: {lint.stdout} {lint.stderr}")

            with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
                f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n"
                        "  - job_name: tcpkawatch\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{port}']\n")
            prom = subprocess.Popen(
                ["prometheus", f"--config.file={tmp}/prometheus.yml",
                 f"--storage.tsdb.path={tmp}/data", f"--web.listen-address=127.0.0.1:{prom_port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def query(q):
                url = (f"http://127.0.0.1:{prom_port}/api/v1/query?"
                       + urllib.parse.urlencode({"query": q}))
                try:
                    res = json.loads(get(url))["data"]["result"]
                except OSError:
                    return None
                return float(res[0]["value"][1]) if res else None

            sel = f'netns="{ns.inode}"'
            deaths = wait_until(lambda: query(
                f'tcpkawatch_deaths_total{{{sel},cause="keepalive",errno="ETIMEDOUT"}}'),
                30, "Prometheus to scrape the deaths")
            check(deaths == 2, f"deaths {deaths}")
            check(query(f"tcpkawatch_keepalive_probes_total{{{sel}}}") == probes == 4,
                  f"probes: Prometheus {query(f'tcpkawatch_keepalive_probes_total{{{sel}}}')},"
                  f" nstat {probes}")
            check(query(f'tcpkawatch_established_connections{{{sel},keepalive="false"}}') == 2,
                  "established without keepalive")
            check(query(f'tcpkawatch_established_connections{{{sel},keepalive="true"}}') == 0,
                  "established with keepalive")
            check(query('tcpkawatch_build_info') == 1, "build info")
    finally:
        if prom:
            prom.kill()
            prom.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_export_bad_listen():
    # bad input: one line and exit code 2, before anything is loaded
    for args in (["--listen", "nowhere"], ["--listen", "127.0.0.1:0"],
                 ["--per-connection", "0"], ["--listen", "300.1.1.1:80"],
                 ["--listen", "1.2.3.4:99999"]):
        p = subprocess.run([TCPKAWATCH, "export", *args], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1,
              f"{args}: rc {p.returncode} {p.stderr!r}")
