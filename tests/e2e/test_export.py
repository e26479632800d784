"""tcpkawatch export, scraped by a real Prometheus server on loopback, and
its HTTP server under idle and slow clients."""
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from ka import (SCHEMA, TCPKAWATCH, Netns, Prometheus, TestFailure, Watch, check, run,
                same_on_every_kernel, wait_until)
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


def status(url, method="GET"):
    """The HTTP status code and body of one request."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sample(text, name, **labels):
    """The value of one series in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_export_scraped_by_prometheus():
    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    # one series per namespace, whatever cgroups the processes are in;
    # Prometheus from the start: its first scrape comes seconds after it
    # starts (its discovery's 5 s), meanwhile the connections die
    with Netns() as ns, Exporter("--listen", f"127.0.0.1:{port}", "--per-connection", 10,
                                 "--labels", "netns", "--max-connections", 5000) as ex, \
            Prometheus(f"static_configs:\n  - targets: ['127.0.0.1:{port}']") as prom:
        check(ex.bpf_map("conns")["max_entries"] == 5000, "export --max-connections 5000")
        before = ns.nstat(*COUNTERS)
        ns.blackhole_after_handshake(5400)
        open_pair(ns, 5400)
        open_pair(ns, 5401, server_args=(), client_args=())
        try:
            wait_until(lambda: sample(get(metrics_url), "tcpkawatch_established_connections",
                                      netns=ns.inode, keepalive="false") == 2, 10,
                       "a first scrape with the connection without keepalive")
        except TestFailure as e:
            lines = [x for x in get(metrics_url).splitlines() if str(ns.inode) in x]
            raise TestFailure(f"{e}: {lines}; ss {run('ss', '-tnie', ns=ns).stdout!r}") from e
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

        sel = f'netns="{ns.inode}"'
        deaths = wait_until(lambda: prom.value(
            f'tcpkawatch_deaths_total{{{sel},cause="keepalive",errno="ETIMEDOUT"}}'),
            30, "Prometheus to scrape the deaths")
        check(deaths == 2, f"deaths {deaths}")
        check(prom.value(f"tcpkawatch_keepalive_probes_total{{{sel}}}") == probes == 4,
              f"probes: Prometheus {prom.value(f'tcpkawatch_keepalive_probes_total{{{sel}}}')},"
              f" nstat {probes}")
        check(prom.value(f'tcpkawatch_established_connections{{{sel},keepalive="false"}}') == 2,
              "established without keepalive")
        check(prom.value(f'tcpkawatch_established_connections{{{sel},keepalive="true"}}') == 0,
              "established with keepalive")
        check(prom.value('tcpkawatch_build_info') == 1, "build info")


@same_on_every_kernel
def test_export_bad_listen():
    # bad input: one line and exit code 2, before anything is loaded
    for args in (["--listen", "nowhere"], ["--listen", "127.0.0.1:0"],
                 ["--per-connection", "0"], ["--listen", "300.1.1.1:80"],
                 ["--listen", "1.2.3.4:99999"]):
        p = subprocess.run([TCPKAWATCH, "export", *args], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1,
              f"{args}: rc {p.returncode} {p.stderr!r}")


HTTP_TIMEOUT_S = 10  # export.c's HTTP_TIMEOUT_S


def still_open(sock):
    """True while the other end has neither closed nor reset sock (a
    blocking socket: one with a timeout would wait for data)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


class SlowLoris:
    """A client that sends a request header one byte every 100 ms and never
    finishes it, in a thread, until closed."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setblocking(True)
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        header = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100000
        for b in header:
            if self.stop.wait(0.1):
                return
            try:
                self.sock.send(bytes([b]))
            except OSError:
                return
            self.sent += 1

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_export_idle_and_slow_clients():
    """200 idle connections and a slow-loris client held open: scrapes made
    meanwhile answer in well under a second, every keepalive probe made
    meanwhile is counted (nstat-exact), /healthz says ok; the idle clients
    are closed after the server's timeout. Also 404 and 405."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    idle, loris = [], None
    try:
        with Netns() as ns, Exporter("--listen", f"127.0.0.1:{port}"):
            before = ns.nstat(*COUNTERS)
            ns.blackhole_after_handshake(5402)
            open_pair(ns, 5402)  # probes after 1 s idle, deaths after 2 probes a side
            for _ in range(200):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                idle[-1].setblocking(True)
            loris = SlowLoris(port)
            wait_until(lambda: loris.sent >= 5, 5, "the slow client to start sending")

            took = []

            def scrape():
                start = time.monotonic()
                text = get(f"{base}/metrics")
                took.append(time.monotonic() - start)
                return text

            scrape()
            held = sum(map(still_open, idle))
            check(held == len(idle) and still_open(loris.sock),
                  f"the server closed {len(idle) - held} idle clients before its timeout")

            def deaths():
                return sample(scrape(), "tcpkawatch_deaths_total", netns=ns.inode,
                              cause="keepalive", errno="ETIMEDOUT") == 2
            wait_until(deaths, 15, "two keepalive deaths in the metrics")
            # About 10 ms a scrape here; on a loaded machine (or under
            # qemu's TCG) one in many waits a few hundred ms for a CPU, with
            # or without clients. Served one at a time, 2 s each, the idle
            # clients made every scrape take minutes.
            took.sort()
            check(took[len(took) // 2] < 0.5 and took[-1] < 5,
                  f"scrapes with 200 idle clients and a slow one open: median "
                  f"{took[len(took) // 2]:.3f}s, slowest {took[-1]:.3f}s")
            after = ns.nstat(*COUNTERS)
            probes = after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"]
            counted = sample(scrape(), "tcpkawatch_keepalive_probes_total", netns=ns.inode)
            check(counted == probes == 4, f"probes: exported {counted}, nstat {probes}")

            check(status(f"{base}/healthz") == (200, "ok\n"),
                  f"/healthz: {status(f'{base}/healthz')}")
            check(status(f"{base}/metrics", "HEAD") == (200, ""), "HEAD /metrics")
            check(status(f"{base}/nothing")[0] == 404, "/nothing is not 404")
            check(status(f"{base}/metrics", "POST")[0] == 405, "POST /metrics is not 405")
            wait_until(lambda: not any(map(still_open, idle)), HTTP_TIMEOUT_S + 10,
                       "the server to close its idle clients")
            check(still_open(loris.sock), "the slow client, still sending, was closed")
    finally:
        if loris:
            loris.close()
        for sock in idle:
            sock.close()


@same_on_every_kernel
def test_export_port_in_use():
    # one line naming the address, exit code 1, before anything is loaded
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        p = subprocess.run([TCPKAWATCH, "export", "--listen", addr], capture_output=True,
                           text=True, timeout=30)
    check(p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1 and addr in p.stderr,
          f"rc {p.returncode} {p.stderr!r}")
