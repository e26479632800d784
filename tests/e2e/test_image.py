"""The container image (Containerfile), built with podman and run on this
machine's kernel: export in a container counts a keepalive death made in a
namespace of the test's own, nstat-exact; enforce --pin from the image
attaches a program that outlives the container, --off removes it; each
capability the container is given is needed. No registry is reachable:
the base images the Containerfile names are made from Debian's packages
and tagged with those names. Host-only: see host_only()."""
import atexit
import json
import os
import re
import subprocess
import tempfile

from ka import (ROOT, TCPKAWATCH, Bpffs, Cgroup, Netns, NotHere, TestFailure, cgroup2_root,
                check, check_nothing_attached, enforce_attachments, in_vmtest_guest, run,
                wait_until)
from test_caps import ENFORCE, NETNS, OBSERVE, SYS_ADMIN_DOES
from test_enforce import pair
from test_export import free_port, get, sample, status
from test_keepalive import COUNTERS, KA, open_pair
from test_workload import start_pair

IMAGE = "localhost/tcpkawatch:e2e"
CONTAINERFILE = os.path.join(ROOT, "Containerfile")
SUITE = "bookworm"  # the Debian release of the Containerfile's base images
# crun (podman's default where it is installed) refuses these machines'
# hybrid cgroup layout (v1 controllers, v2 at /sys/fs/cgroup/unified);
# without explicit limits podman asks for the host's nofile limit, which
# runc cannot set without CAP_SYS_RESOURCE ("error setting rlimit type 7").
RUNTIME = ("--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
# what the tests grant: what the binary asks for each command
EXPORT_CAPS = OBSERVE + NETNS
PINS = "/sys/fs/bpf/tcpkawatch"


def host_only():
    """The image is built and run on the host only, never in a vmtest
    guest (tests/vm), as tried in bookworm-6.1's: the guest's root is an
    overlay over 9p, where podman's overlay storage refuses to work
    ("'overlay' is not supported over overlayfs"); with its storage on a
    tmpfs, loading an image saved on the host takes 27 s under TCG, and
    then runc finds no cgroup hierarchy it can use (the guest mounts only
    the host's cgroup2, under a tmpfs: "no cgroup mount found in
    mountinfo"; --cgroups=disabled is crun's alone). Building there (apt,
    clang) under TCG would take many minutes per kernel. The binary in the
    image is built from the same sources the guests test on their kernels."""
    if in_vmtest_guest():
        raise NotHere("host-only: in a vmtest guest podman's overlay storage does not work "
                      "on its overlay root and runc finds no cgroup hierarchy; the host's "
                      "run of the suite builds and runs the image")


def sh(cmd, timeout):
    """A long command (a build): its output only when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode:
        tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-15:])
        raise TestFailure(f"{' '.join(cmd)}: exit {p.returncode}:\n{tail}")
    return p


def base_images():
    """The images the Containerfile's FROM lines name (not its stages)."""
    names = []
    with open(CONTAINERFILE) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["FROM"] and words[1] not in names:
                names.append(words[1])
    return names


def build_bases():
    """Makes the base images that are missing here: Debian's minbase (what
    the official images are), without documentation (what the slim ones
    leave out), one root file system tagged with every missing name. Kept
    between runs (about 15 s to make): only a machine without them, as a
    fresh CI machine, makes them."""
    missing = [n for n in base_images()
               if run("podman", "image", "exists", n, check_rc=False).returncode]
    if not missing:
        return
    with tempfile.TemporaryDirectory(prefix="tkw-base-") as tmp:
        rootfs = os.path.join(tmp, "rootfs.tar")
        excludes = [f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "info")]
        sh(["mmdebstrap", "--quiet", "--variant=minbase", *excludes, SUITE, rootfs], 600)
        sh(["podman", "import", "--quiet", rootfs, missing[0]], 120)
    for name in missing[1:]:
        run("podman", "tag", missing[0], name)


_image = {}


def image():
    """The image, built once per run (the first test that needs it) and
    removed when the run ends. Without podman's layer cache (--layers=false):
    a cached build would keep a 1 GB build stage and a dangling image
    after every change of the sources, which the test could not tell from
    others' to remove; the build takes about 15 s here."""
    host_only()
    if "error" in _image:
        raise TestFailure(f"the image could not be built: {_image['error']}")
    if "built" not in _image:
        try:
            build_bases()
            # the build's RUN steps reach Debian's mirrors: the host's network
            sh(["podman", "build", *RUNTIME, "--network=host", "--layers=false", "--quiet",
                "--tag", IMAGE, "--file", CONTAINERFILE, ROOT], 900)
        except (TestFailure, subprocess.TimeoutExpired) as e:
            _image["error"] = str(e)
            raise
        _image["built"] = True
        atexit.register(run, "podman", "rmi", "--force", IMAGE, check_rc=False)
    return IMAGE


def cap_args(caps):
    caps = [c.removeprefix("CAP_").lower() for c in caps]
    return ["--cap-drop=all"] + (["--cap-add=" + ",".join(caps)] if caps else [])


def podman_run(caps, args, mounts=()):
    """The image's binary in a container with only caps, the host's PID and
    network namespaces and mounts, to its end."""
    return subprocess.run(["podman", "run", "--rm", *RUNTIME, *cap_args(caps), "--pid=host",
                           "--network=host", *mounts, image(), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def one_line_missing(p, cap):
    """tcpkawatch's refusal: exit status 1, one line, naming cap missing."""
    lines = p.stderr.strip().splitlines()
    return (p.returncode == 1 and len(lines) == 1
            and re.search(rf"\(missing: {cap}( for [^)]*)?\)", lines[0]) is not None)


class Exporter:
    """export --listen 127.0.0.1:PORT in a container (detached), removed on
    exit; ready once /healthz answers 200. The host's cgroup v2, read-only
    at its own path, names the sockets' workloads (the container's own
    cgroup mount shows only its own cgroup)."""
    seq = 0

    def __init__(self, caps):
        Exporter.seq += 1
        self.name = f"tkw-e2e-{os.getpid()}-{Exporter.seq}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cgroup = cgroup2_root()
        self.cmd = ["podman", "run", "--detach", "--name", self.name, *RUNTIME, *cap_args(caps),
                    "--pid=host", "--network=host", "-v", f"{cgroup}:{cgroup}:ro", image(),
                    "export", "--listen", f"127.0.0.1:{self.port}",
                    "--labels", "container_id,netns"]

    def __enter__(self):
        run(*self.cmd)
        return self

    def running(self):
        p = run("podman", "inspect", "--format", "{{.State.Running}}", self.name, check_rc=False)
        return p.stdout.strip() == "true"

    def logs(self):
        p = run("podman", "logs", self.name, check_rc=False)
        return (p.stdout + p.stderr).strip()

    def healthy(self):
        """True once /healthz says ok, False if the container ended first."""
        def answered():
            try:
                return "ok" if status(f"{self.url}/healthz")[0] == 200 else None
            except OSError:
                return None if self.running() else "ended"
        return wait_until(answered, 30, f"export in {self.name} to answer") == "ok"

    def metrics(self):
        return get(f"{self.url}/metrics")

    def __exit__(self, *exc):
        run("podman", "rm", "--force", "--time", "0", self.name, check_rc=False)
        check_nothing_attached()


def test_image_export_counts_keepalive_death():
    """The image's default command is export on every address; run here on
    loopback (--network=host), it serves the host's metrics: a namespace's
    connections (found through the host's /proc: --pid=host) and two
    keepalive deaths of a docker-named cgroup's processes, labelled with
    its container id, the probes equal to the namespace's nstat."""
    config = json.loads(run("podman", "image", "inspect", image()).stdout)[0]["Config"]
    check(config["Entrypoint"] == ["/usr/local/sbin/tcpkawatch"]
          and config["Cmd"] == ["export", "--listen", "0.0.0.0:9977"],
          f"entrypoint {config['Entrypoint']}, command {config['Cmd']}")
    cid = os.urandom(32).hex()
    with Netns() as ns, Cgroup(f"system.slice/docker-{cid}.scope") as cg, \
            Exporter(EXPORT_CAPS) as c:
        check(c.healthy(), f"export in a container ended: {c.logs()}")
        before = ns.nstat(*COUNTERS)
        ns.blackhole_after_handshake(5430)
        start_pair(ns, cg, 5430, *KA)
        open_pair(ns, 5431, server_args=(), client_args=())
        wait_until(lambda: sample(c.metrics(), "tcpkawatch_established_connections",
                                  netns=ns.inode, container_id="", keepalive="false") == 2, 10,
                   "the namespace's two connections without keepalive in a scrape")
        try:
            wait_until(lambda: sample(c.metrics(), "tcpkawatch_deaths_total", netns=ns.inode,
                                      container_id=cid, cause="keepalive",
                                      errno="ETIMEDOUT") == 2, 15,
                       "two keepalive deaths in the container's metrics")
        except TestFailure as e:
            raise TestFailure(f"{e}; nstat {ns.nstat(*COUNTERS)}; logs {c.logs()!r}") from e
        after = ns.nstat(*COUNTERS)
        probes = after["TcpExtTCPKeepAlive"] - before["TcpExtTCPKeepAlive"]
        aborts = after["TcpExtTCPAbortOnTimeout"] - before["TcpExtTCPAbortOnTimeout"]
        counted = sample(c.metrics(), "tcpkawatch_keepalive_probes_total", netns=ns.inode,
                         container_id=cid)
        check(counted == probes == 4 and aborts == 2,
              f"probes: exported {counted}, nstat +{probes}; aborts +{aborts}")


def test_image_export_capabilities():
    """With no capability the container refuses in tcpkawatch's one line
    naming all it needs; without any one of them it names that one,
    except those CAP_SYS_ADMIN does for BPF too (CAP_BPF, CAP_PERFMON):
    export needs CAP_SYS_ADMIN anyway (setns), so those two are granted
    as the binary names them but are not needed."""
    p = podman_run((), ["export", "--listen", "127.0.0.1:9"])
    needs = re.search(r"export needs (.*) \(missing", p.stderr)
    named = set(re.findall(r"CAP_\w+", needs.group(1))) if needs else set()
    check(p.returncode == 1 and named == set(EXPORT_CAPS),
          f"no capability: exit {p.returncode}, {p.stderr!r}; expected {EXPORT_CAPS}")
    for cap in EXPORT_CAPS:
        less = [c for c in EXPORT_CAPS if c != cap]
        if cap in SYS_ADMIN_DOES:
            with Exporter(less) as c:
                check(c.healthy(), f"export without {cap} ended: {c.logs()}")
            continue
        p = podman_run(less, ["export", "--listen", "127.0.0.1:9"])
        check(one_line_missing(p, cap), f"without {cap}: exit {p.returncode}, {p.stderr!r}")


def seccomp_bpf_needs_sys_admin():
    """Whether podman's seccomp profile lets bpf() through only for a
    container holding CAP_SYS_ADMIN (containers-common's, to this day:
    Docker's lets CAP_BPF do since 23.0)."""
    for path in ("/etc/containers/seccomp.json", "/usr/share/containers/seccomp.json"):
        if os.path.exists(path):
            with open(path) as f:
                profile = json.load(f)
            allowed = [r.get("includes", {}).get("caps", []) for r in profile["syscalls"]
                       if "bpf" in r["names"] and r["action"] == "SCMP_ACT_ALLOW"]
            return all(caps == ["CAP_SYS_ADMIN"] for caps in allowed)
    return False


def test_image_enforce_pin_and_off():
    """enforce --pin from the image, with the host's BPF filesystem and
    cgroup v2 mounted: the pinned programs stay attached to the test's
    cgroup after the container is gone and set keepalive on a new
    connection there; --status from another container shows them,
    enforce --off (no capability) removes them. Each capability: without
    it, tcpkawatch's one line, or, for CAP_SYS_ADMIN, the kernel's refusal
    (podman's seccomp profile returns EPERM from bpf() without it)."""
    extra = ("CAP_SYS_ADMIN",) if seccomp_bpf_needs_sys_admin() else ()
    caps = ENFORCE + extra
    with Bpffs(), Netns() as ns, Cgroup() as cg:
        cgroup2 = cgroup2_root()
        mounts = ["--volume", "/sys/fs/bpf:/sys/fs/bpf", "--volume", f"{cgroup2}:{cgroup2}:ro"]
        pin = ["enforce", "--pin", "--cgroup", cg.path, "--idle", 900]
        try:
            for cap in caps:
                p = podman_run([c for c in caps if c != cap], pin, mounts)
                if cap == "CAP_SYS_ADMIN":
                    ok = p.returncode == 1 and "Operation not permitted" in p.stderr
                elif extra and cap in SYS_ADMIN_DOES:
                    ok = p.returncode == 0  # CAP_SYS_ADMIN does it
                    podman_run((), ["enforce", "--off"], mounts)
                else:
                    ok = one_line_missing(p, cap)
                check(ok, f"--pin without {cap}: exit {p.returncode}, {p.stderr!r}")
            check(not enforce_attachments(), f"attached after the refusals: {enforce_attachments()}")

            p = podman_run(caps, pin, mounts)
            check(p.returncode == 0 and "pinned" in p.stdout, f"--pin: {p.stdout!r} {p.stderr!r}")
            check(len(enforce_attachments()) == 2 and os.path.isdir(PINS),
                  f"after --pin: links {enforce_attachments()}, pins {os.path.isdir(PINS)}")
            _, _, ska, cka = pair(ns, 5432, cg)
            check(ska[:2] == [1, 900] and cka[:2] == [1, 900], f"pinned policy: {ska} {cka}")
            p = podman_run(("CAP_BPF",) + extra, ["enforce", "--status"], mounts)
            check(p.returncode == 0 and "idle=900s" in p.stdout and cg.path in p.stdout,
                  f"--status: {p.stdout!r} {p.stderr!r}")
            p = podman_run((), ["enforce", "--off"], mounts)
            check(p.returncode == 0 and not enforce_attachments() and not os.path.exists(PINS),
                  f"--off: {p.stdout!r} {p.stderr!r}; links {enforce_attachments()}")
            _, _, ska, _ = pair(ns, 5433, cg)
            check(ska[0] == 0, f"keepalive after --off: {ska}")
        finally:
            # nothing pinned outlives the test, whatever failed
            subprocess.run([TCPKAWATCH, "enforce", "--off"], capture_output=True, timeout=30)
