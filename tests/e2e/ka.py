"""Helpers for the end-to-end tests: namespaces, nftables, nstat, peers and
a running tcpkawatch. Everything a test makes is undone by the context
managers, also when the test fails; every wait is bounded."""
import atexit
import json
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TCPKAWATCH = os.environ.get("TCPKAWATCH", os.path.join(ROOT, "tcpkawatch"))
BUILD = os.environ.get("TKW_BUILD", os.path.join(ROOT, "build"))  # make's OUTPUT
FORKER = os.path.join(HERE, "forker.py")
WATCH_PROGS = ("ka_timer_entry", "ka_timer_start", "ka_timer_exit", "ka_set_state",
               "ka_state_nested", "ka_receive_reset", "ka_reset_nested")
ENFORCE_PROGS = ("ka_enforce", "ka_app_sockopt")  # sockops, cgroup/setsockopt
BPF_PROG_NAMES = WATCH_PROGS + ENFORCE_PROGS + ("ka_kill",)

_ns_seq = 0

with open(os.path.join(ROOT, "doc", "schema.json")) as _f:
    SCHEMA = json.load(_f)
SCHEMA_KINDS_SEEN = set()  # record kinds checked so far in this run


def schema_errors(rec, kind=None):
    """What is wrong with one record against doc/schema.json: its kind
    (rec["event"] unless given) must be known, its keys exactly the
    kind's in that order, each value of its key's type."""
    kind = kind or rec.get("event")
    if kind not in SCHEMA["records"]:
        return [f"unknown kind of record {kind!r}: {rec}"]
    SCHEMA_KINDS_SEEN.add(kind)
    errors = []
    want = SCHEMA["records"][kind]["keys"]
    if list(rec) != want:
        errors.append(f"{kind}: keys {list(rec)}, the schema says {want}")
    types = {"integer": int, "number": (int, float), "string": str, "boolean": bool}
    for key, value in rec.items():
        spec = SCHEMA["keys"].get(key)
        if spec is None:
            continue  # reported above
        if value is None:
            if not spec.get("null"):
                errors.append(f"{kind}: {key} is null")
            continue
        if isinstance(value, bool) != (spec["type"] == "boolean") \
                or not isinstance(value, types[spec["type"]]):
            errors.append(f"{kind}: {key}={value!r} is not {spec['type']}")
        elif "enum" in spec and value not in spec["enum"]:
            errors.append(f"{kind}: {key}={value!r} not in {spec['enum']}")
    return errors


def check_schema(records, kind=None):
    errors = [e for r in records for e in schema_errors(r, kind)]
    check(not errors, "records unlike doc/schema.json:\n  " + "\n  ".join(errors[:10]))


class TestFailure(AssertionError):
    pass


class NotHere(Exception):
    """Raised by a test that cannot run on this machine, with the reason:
    run.py prints it as SKIP, counted neither passed nor failed."""


def in_vmtest_guest():
    """Whether this runs inside one of the kernel matrix's qemu guests
    (tests/vm: guest.sh mounts vmtest.sh's share at /run/vmtest)."""
    return os.path.exists("/run/vmtest/conf")


def same_on_every_kernel(test):
    """Marks a test no kernel can change the outcome of: it loads no BPF
    program and checks files, the command line, or what tcpkawatch
    decides before it loads anything. The host's run of the suite has it;
    run.py skips it in the matrix's guests, which are there for what
    differs by kernel."""
    test.same_on_every_kernel = True
    return test


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def run(*cmd, ns=None, check_rc=True, input=None):
    if ns:
        cmd = ("ip", "netns", "exec", ns.name) + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=30)
    if check_rc and p.returncode:
        raise TestFailure(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def wall_time(*cmd, ns=None, timeout=120):
    """Seconds cmd took (in ns, if given), its output thrown away; it must
    succeed. Its end is waited for on a pidfd, bounded: subprocess's own
    bounded wait polls at up to 50 ms intervals, which rounds a 50 ms run
    up to 63 ms and a 130 ms one to 163."""
    if ns:
        cmd = ("ip", "netns", "exec", ns.name) + cmd
    start = time.monotonic()
    # stderr too: ss -e complains once a socket on hosts with a hybrid
    # cgroup layout
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.pidfd_open(proc.pid), "rb", buffering=0) as pidfd:
        ended = select.select([pidfd], [], [], timeout)[0]
        took = time.monotonic() - start
    if not ended:
        proc.kill()
        proc.wait()
        raise TestFailure(f"{' '.join(cmd)}: not done after {timeout} s")
    check(proc.wait() == 0, f"{' '.join(cmd)}: exit {proc.returncode}")
    return took


def wait_until(pred, timeout, what):
    """Poll pred() until it returns something true; bounded. Between two
    polls, twice what the last one took, at least 50 ms: a predicate that
    runs a program (ss, nstat, a scrape: tens of milliseconds of CPU each
    under qemu's TCG) takes at most a third of the machine while it waits,
    not most of it, from what it waits for."""
    deadline = time.monotonic() + timeout
    while True:
        start = time.monotonic()
        v = pred()
        if v:
            return v
        now = time.monotonic()
        if now >= deadline:
            raise TestFailure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(min(max(0.05, 2 * (now - start)), deadline - now))


class Netns:
    """A network namespace with lo up, deleted on exit with what runs in it."""

    def __init__(self, sysctls=None):
        global _ns_seq
        _ns_seq += 1
        self.name = f"tkw-{os.getpid()}-{_ns_seq}"
        self.sysctls = sysctls or {}

    def __enter__(self):
        run("ip", "netns", "add", self.name)
        try:
            run("ip", "-n", self.name, "link", "set", "lo", "up")
            for k, v in self.sysctls.items():
                run("sysctl", "-q", "-w", f"{k}={v}", ns=self)
            self.inode = os.stat(f"/run/netns/{self.name}").st_ino
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        pids = run("ip", "netns", "pids", self.name, check_rc=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        run("ip", "netns", "del", self.name, check_rc=False)

    def nft(self, ruleset):
        """Load nftables rules into this namespace (gone with it)."""
        run("nft", "-f", "-", ns=self, input=ruleset)

    def count_bare_acks(self, port):
        """Count the segments sent to TCP port `port` that carry no flag
        but ACK (from the client: its handshake's last, then only
        keepalive probes while nothing else is sent): what went out, a
        third count beside nstat's and tcpkawatch's. bare_acks() reads it."""
        self.nft(f"""table inet tkw_count {{
            chain output {{
                type filter hook output priority 0; policy accept;
                tcp dport {port} tcp flags == ack counter
            }}
        }}
        """)

    def bare_acks(self):
        ruleset = json.loads(run("nft", "-j", "list", "table", "inet", "tkw_count",
                                 ns=self).stdout)["nftables"]
        return next(e["counter"]["packets"] for o in ruleset if "rule" in o
                    for e in o["rule"]["expr"] if "counter" in e)

    def blackhole(self, port):
        """Drop every packet to or from TCP port `port`: a peer that vanished."""
        self.nft(f"""table inet tkw_blackhole {{
            chain input {{
                type filter hook input priority 0; policy accept;
                tcp dport {port} drop
                tcp sport {port} drop
            }}
        }}
        """)

    def blackhole_after_handshake(self, port):
        """A peer that vanishes the moment a connection is up: connections
        to or from TCP port `port` complete their handshake, then every
        packet is dropped. Call it before they connect: no keepalive probe
        or data can get through however slow the machine (under qemu a
        process start takes most of a second, longer than a 1 s idle).
        Conntrack counts each connection's packets: the client's SYN and
        ACK go the original way, the server's SYN-ACK the reply way."""
        self.nft(f"""table inet tkw_blackhole {{
            chain input {{
                type filter hook input priority 0; policy accept;
                tcp dport {port} ct original packets > 2 drop
                tcp sport {port} ct reply packets > 1 drop
            }}
        }}
        """)
        # conntrack's packet counts, for connections made from now on (the
        # ct rule above loaded nf_conntrack, which makes the sysctl)
        run("sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=1", ns=self)

    def wait_no_connections(self, timeout=10):
        """Until every full socket is gone (TIME_WAIT ones are not sockets)."""
        wait_until(lambda: not run("ss", "-Htn", "exclude", "time-wait", ns=self).stdout.strip(),
                   timeout, f"connections in {self.name} to end")

    def nstat(self, *names):
        out = run("nstat", "-asz", *names, ns=self).stdout
        values = {n: 0 for n in names}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in values:
                values[parts[0]] = int(parts[1])
        return values


class Events:
    """JSON objects a process writes: snapshot() has those so far."""

    def wait(self, pred, timeout, what, count=1):
        def found():
            hits = [x for x in self.snapshot() if pred(x)]
            return hits if len(hits) >= count else None
        return wait_until(found, timeout, what)


class Lines(Events):
    """Collects a process's stdout as JSON objects, in a thread."""

    def __init__(self, stream):
        self.items = []
        self.raw = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            with self.lock:
                self.raw.append(line)
                try:
                    self.items.append(json.loads(line))
                except ValueError:
                    pass

    def snapshot(self):
        with self.lock:
            return list(self.items)

    def finish(self):
        self.thread.join(timeout=5)


class FileLines(Events):
    """The JSON objects a process writes to a file: the process never waits
    for a reader (a pipe read by Python falls behind at thousands of
    events a second, and tcpkawatch's ring buffer then fills)."""

    def __init__(self, path):
        self.path = path

    def snapshot(self):
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def finish(self):
        pass


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    raise TestFailure("no cgroup v2 hierarchy mounted")


class Cgroup:
    """A cgroup v2 of the test's own, removed with what runs in it: a new
    one under the root, or the path rel under it, made with the parents
    it lacks (all of them removed after)."""

    def __init__(self, rel=None):
        global _ns_seq
        _ns_seq += 1
        self.rel = rel or f"tkw-{os.getpid()}-{_ns_seq}"
        self.path = os.path.join(cgroup2_root(), self.rel)

    def __enter__(self):
        self.made = []
        path = cgroup2_root()
        for name in self.rel.split("/"):
            path = os.path.join(path, name)
            if not os.path.isdir(path):
                os.mkdir(path)
                self.made.append(path)
        return self

    def kill(self):
        """End what runs in it, and wait until it is empty."""
        procs = os.path.join(self.path, "cgroup.procs")
        with open(procs) as f:
            for pid in f.read().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        wait_until(lambda: not open(procs).read().strip(), 5, "the cgroup to empty")

    def __exit__(self, *exc):
        if os.path.isdir(self.path):
            self.kill()
        for path in reversed(self.made):
            if os.path.isdir(path):
                os.rmdir(path)


class Bpffs:
    """The BPF filesystem at /sys/fs/bpf for pins, mounted for the test
    if the system has none there, and unmounted again after it."""

    def __enter__(self):
        self.mounted = run("findmnt", "-n", "-t", "bpf", "/sys/fs/bpf",
                           check_rc=False).returncode != 0
        if self.mounted:
            run("mount", "-t", "bpf", "bpf", "/sys/fs/bpf")
        return self

    def __exit__(self, *exc):
        if self.mounted:
            run("umount", "/sys/fs/bpf", check_rc=False)


def readline_within(stream, timeout):
    """A line of a child's text stream, or "" if none came within timeout."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


class HeldConns:
    """N loopback connections to PORTS, both ends held by one process in
    ns (hold_conns.py; ka_args: "IDLE[,INTVL]" and "together", as there),
    killed on exit. ready() waits until all are open."""

    def __init__(self, ns, n, ports, *ka_args):
        self.cmd = ["ip", "netns", "exec", ns.name, "python3", os.path.join(HERE, "hold_conns.py"),
                    str(n), ",".join(map(str, ports)), *map(str, ka_args)]

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        return self

    def ready(self, timeout=60, word="ready"):
        if readline_within(self.proc.stdout, timeout).strip() != word:
            raise TestFailure(f"{' '.join(self.cmd)}: not {word} within {timeout}s")

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


class Forker:
    """forker.py (see there): started at the first Peer of a run, ended
    with the run."""
    ctl = None

    @classmethod
    def fork(cls, argv, ns, cgroup, stdin):
        """peer.py ARGV forked into ns (and cgroup, if given): its pid, a
        pidfd of it, its stdout (text) and, if stdin, a pipe to its stdin
        (text; else /dev/null, as its stderr)."""
        if cls.ctl is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            proc = subprocess.Popen(["python3", FORKER, str(theirs.fileno())],
                                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
            theirs.close()
            ours.settimeout(30)
            cls.ctl = ours
            atexit.register(cls.end, proc)
        req = {"argv": argv, "netns": ns.name, "cgroup": cgroup.path if cgroup else None}
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe() if stdin else (os.open(os.devnull, os.O_RDONLY), None)
        try:
            with open(os.devnull, "wb") as null:
                socket.send_fds(cls.ctl, [json.dumps(req).encode()], [in_r, out_w, null.fileno()])
        finally:
            os.close(out_w)
            os.close(in_r)
        msg, fds, _, _ = socket.recv_fds(cls.ctl, 64, 1)
        if not msg or len(fds) != 1:
            raise TestFailure(f"forker.py did not fork {req}")
        return int(msg), fds[0], open(out_r), open(in_w, "w") if stdin else None

    @classmethod
    def end(cls, proc):
        cls.ctl.close()  # the end of its socket ends it
        proc.wait(timeout=10)


class Peer:
    """peer.py in a namespace (and a cgroup, if given), forked by
    forker.py: its pid owns the sockets; its JSON lines in .out; with
    stdin, .stdin writes to its stdin."""

    def __init__(self, ns, mode, *args, cgroup=None, stdin=False):
        self.pid, self.pidfd, stdout, self.stdin = Forker.fork([mode, *map(str, args)], ns,
                                                               cgroup, stdin)
        self.out = Lines(stdout)

    def wait(self, key, timeout=10):
        return self.out.wait(lambda x: key in x, timeout, f"peer {key}")[0]

    def stop(self):
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass  # ended already
        if not select.select([self.pidfd], [], [], 10)[0]:
            raise TestFailure(f"peer {self.pid} did not end on SIGKILL")

    def __del__(self):
        if hasattr(self, "pidfd"):  # not if the fork failed
            os.close(self.pidfd)


class Watch:
    """tcpkawatch --json running until stop(); events in .out."""
    running = 0  # instances alive: the last one out checks the kernel
    events_file = False  # subclasses (Enforce, the exporter) read a pipe

    def __init__(self, *args, events_file=False):
        self.args = [TCPKAWATCH, "--json", *map(str, args)]
        self.events_file = events_file

    def __enter__(self):
        if self.events_file:
            self.dir = tempfile.TemporaryDirectory()
            path = os.path.join(self.dir.name, "events.json")
            with open(path, "a") as out:  # a file offset of its own, not ours
                self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.PIPE,
                                             text=True)
            self.out = FileLines(path)
        else:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
            self.out = Lines(self.proc.stdout)
        Watch.running += 1
        self.err = []
        ready = threading.Event()

        def read_err():
            for line in self.proc.stderr:
                self.err.append(line)
                if line.rstrip().endswith("Ctrl-C to end."):
                    ready.set()
        threading.Thread(target=read_err, daemon=True).start()
        if not ready.wait(20):
            self.__exit__()
            raise TestFailure(f"tcpkawatch did not attach: {''.join(self.err)}")
        return self

    def events(self, kind=None, netns=None):
        return [e for e in self.out.snapshot()
                if (kind is None or e.get("event") == kind)
                and (netns is None or e.get("netns") == netns)]

    def wait(self, pred, timeout, what, count=1):
        try:
            return self.out.wait(pred, timeout, what, count)
        except TestFailure as e:
            # its warnings ("lost so far") tell a loss from a slow machine;
            # what it saw tells a miss from a kernel that did not act
            seen = [{k: x.get(k) for k in ("ts", "event", "lport", "rport", "unanswered", "cause")}
                    for x in self.out.snapshot()[-20:]]
            raise TestFailure(f"{e}; tcpkawatch's stderr: {''.join(self.err)!r}; "
                              f"its last records: {seen}") from e

    def bpf_map(self, name):
        """bpftool's record of the map called name that this process holds"""
        return process_map(self.proc.pid, name)

    def stop(self, signal_name="SIGINT", allow_loss=False):
        """End it as a user would; returns its exit code. Any loss it
        reports fails the test, unless allowed (benchmarks report it)."""
        if self.proc.poll() is None:
            self.proc.send_signal(getattr(signal, signal_name))
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise TestFailure("tcpkawatch did not exit on signal")
        self.out.finish()
        if "--json" in self.args:
            check_schema(self.events())
        lost = self.events("lost")
        check(allow_loss or not lost, f"tcpkawatch lost something: {lost}")
        return rc

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.events_file:
            self.dir.cleanup()
        Watch.running -= 1
        if not Watch.running:
            check_nothing_attached()


def bpftool_json(*args):
    """bpftool's --json output of one listing, [] if it has none."""
    try:
        return json.loads(run("bpftool", *args, "--json", check_rc=False).stdout or "[]")
    except ValueError:
        return []


def sysctl(name):
    """a sysctl's value, by its path under /proc/sys ("fs/file-max")"""
    with open(f"/proc/sys/{name}") as f:
        return int(f.read())


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def process_map(pid, name):
    """bpftool's record of the map called name that process pid holds"""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                ids |= {int(line.split()[1]) for line in f if line.startswith("map_id:")}
        except FileNotFoundError:
            pass  # closed meanwhile
    maps = [m for m in bpftool_json("map", "show") if m["id"] in ids and m.get("name") == name]
    check(len(maps) == 1, f"map {name} of process {pid}: {maps}")
    return maps[0]


def attached_programs():
    return [p["name"] for p in bpftool_json("prog", "show") if p.get("name") in BPF_PROG_NAMES]


def check_nothing_attached():
    """Once tcpkawatch is gone, none of its programs may stay in the kernel
    (unless a test pinned one)."""
    if os.path.exists("/sys/fs/bpf/tcpkawatch"):
        return
    wait_until(lambda: not attached_programs() and not enforce_attachments(), 5,
               "tcpkawatch's BPF programs to go")


class Enforce(Watch):
    """tcpkawatch enforce ARGS in the foreground, until stop()."""

    def __init__(self, *args):
        self.args = [TCPKAWATCH, "enforce", *map(str, args)]


def enforce_attachments():
    """Our cgroup programs attached anywhere: cgroup links to a ka_enforce
    (sockops) or ka_app_sockopt (cgroup/setsockopt) program. From the
    links, not `bpftool cgroup tree`: 5.10's BPF_PROG_QUERY does not list
    programs attached through a link."""
    ours = {p["id"] for p in bpftool_json("prog", "show") if p.get("name") in ENFORCE_PROGS}
    return [link for link in bpftool_json("link", "show")
            if link.get("type") == "cgroup" and link.get("prog_id") in ours]


class Prometheus:
    """A real Prometheus server (Debian's) on loopback with one scrape job,
    tcpkawatch, whose YAML body (targets, scheme, ...) is `job`; scrapes and
    rules every second. Its data and log live in a directory of its own,
    removed on exit, when the server is killed; the end of its log is
    printed if the test failed."""

    def __init__(self, job, rule_files=()):
        self.job, self.rule_files = job, rule_files

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="tkw-prom-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files: {json.dumps(list(self.rule_files))}\n"
                    "scrape_configs:\n  - job_name: tcpkawatch\n"
                    + "".join(f"    {line}\n" for line in self.job.splitlines()))
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=self.log)
        return self

    def api(self, path, **params):
        """The HTTP API's answer: (status, data or error); (None, None)
        while it cannot answer (not listening yet, a 503 while it starts)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                body = json.loads(r.read().decode())
        except urllib.error.HTTPError as e:  # 400: the query's error
            try:
                body = json.loads(e.read().decode())
            except ValueError:
                return None, None
        except OSError:
            return None, None
        return body["status"], body.get("data", body.get("error"))

    def result(self, query):
        """A query's result list, None if it failed or cannot be asked yet."""
        status, data = self.api("query", query=query)
        return data["result"] if status == "success" else None

    def value(self, query):
        """The value of a query's first series, None if it has none."""
        res = self.result(query)
        return float(res[0]["value"][1]) if res else None

    def __exit__(self, exc_type, *exc):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        if exc_type:
            with open(self.log.name) as f:
                print("prometheus' log, its end:", "".join(f.readlines()[-20:]), flush=True)
        shutil.rmtree(self.dir, ignore_errors=True)
