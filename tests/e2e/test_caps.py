"""Least privilege: each command run by nobody (uid 65534) holding exactly
the capabilities tcpkawatch(8) lists for it (ambient, and nothing else in
its bounding set) works on a real connection; without any one of them it
refuses in one line naming it. The systemd units pass `systemd-analyze
verify`, grant exactly what the binary asks for their commands, and those
commands work with the units' capabilities and no-new-privileges (this
machine's PID 1 is no systemd to run them: setpriv and prlimit stand in
for User=, AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges=
and LimitMEMLOCK=)."""
import atexit
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from ka import (ROOT, TCPKAWATCH, Cgroup, Netns, Watch, check, readline_within, run,
                same_on_every_kernel, sysctl, wait_until)
from test_enforce import keepalive_timers, kernel_has_struct, pair
from test_export import free_port, get, sample
from test_keepalive import open_pair
from test_kill import pair as kill_pair

NOBODY = 65534
UNITS = os.path.join(ROOT, "tools", "systemd")



# the kernel's addresses in /proc/kallsyms (the observer's __ksym): to
# every user with kptr_restrict 0 and perf_event_paranoid at most 1
KSYM = () if sysctl("kernel/kptr_restrict") == 0 and sysctl("kernel/perf_event_paranoid") <= 1 \
    else ("CAP_SYSLOG",)
ITERATE = ("CAP_BPF", "CAP_PERFMON")  # list's object: no __ksym extern
OBSERVE = ITERATE + KSYM
ENFORCE = ("CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN")
NETNS = ("CAP_SYS_ADMIN", "CAP_SYS_PTRACE")
# for BPF, what CAP_SYS_ADMIN also does (the kernel's bpf_capable(),
# perfmon_capable(), and its check of network program types)
SYS_ADMIN_DOES = ("CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN")
# what tcpkawatch(8) says each command needs: (as it names itself, args)
NEEDS = {
    ("watch", ()): OBSERVE,
    ("watch --enforce", ("--enforce", "60,10,6")): OBSERVE + ("CAP_NET_ADMIN",),
    ("list", ("list",)): ITERATE + NETNS,
    ("export", ("export", "--listen", "127.0.0.1:9")): OBSERVE + NETNS,
    ("top", ("top",)): OBSERVE + NETNS,
    ("enforce", ("enforce",)): ENFORCE,
    ("enforce --existing", ("enforce", "--existing")): ENFORCE + NETNS,
    ("kill --dry-run", ("kill", "--dry-run", "-P", "1")): ITERATE + NETNS,
    ("kill", ("kill", "-P", "1")): ITERATE + ("CAP_NET_ADMIN",) + NETNS,
}
# what CAP_SYS_ADMIN does not do for a command: inet_diag's SOCK_DESTROY
# asks for CAP_NET_ADMIN itself
NOT_BY_SYS_ADMIN = {("kill", "CAP_NET_ADMIN")}
# a fresh BPF filesystem as systemd mounts it (root's, 0700), in a mount
# namespace of the command's own: its pins go with it
PRIVATE_BPFFS = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 'mount -t bpf -o mode=0700 bpf /sys/fs/bpf && exec "$@"', "sh"]

_binary, _unlimited = [], []


def binary():
    """A copy of tcpkawatch that nobody may run: the work tree's
    directories need not be open to every user."""
    if not _binary:
        d = tempfile.mkdtemp(prefix="tkw-caps-")
        atexit.register(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        shutil.copy(TCPKAWATCH, os.path.join(d, "tcpkawatch"))
        _binary.append(os.path.join(d, "tcpkawatch"))
    return _binary[0]


def unlimited_memlock():
    """Whether this process may lift RLIMIT_MEMLOCK (a container's root
    may lack CAP_SYS_RESOURCE: then its limit stays)."""
    if not _unlimited:
        _unlimited.append(subprocess.run(["prlimit", "--memlock=unlimited", "true"],
                                         capture_output=True).returncode == 0)
    return _unlimited[0]


def as_nobody(caps, *args, memlock=None, nnp=False):
    """The command line of tcpkawatch ARGS as nobody with exactly caps,
    and RLIMIT_MEMLOCK memlock; by default unlimited, as the units set it,
    where this process may."""
    names = "".join(f",+{c[4:].lower()}" for c in caps)
    if memlock is None and unlimited_memlock():
        memlock = "unlimited"
    return ((["prlimit", f"--memlock={memlock}"] if memlock else [])
            + ["setpriv", f"--reuid={NOBODY}",
             f"--regid={NOBODY}", "--clear-groups", f"--inh-caps=-all{names}",
             f"--ambient-caps=-all{names}", f"--bounding-set=-all{names}"]
            + (["--no-new-privs"] if nnp else []) + [binary(), *map(str, args)])


def run_as(caps, *args, prefix=(), **kw):
    return subprocess.run([*prefix, *as_nobody(caps, *args, **kw)], capture_output=True,
                          text=True, timeout=60)


def words(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def refusal(what, needs, missing, extra=""):
    return (f"tcpkawatch: {what} needs {words(needs)} (missing: {words(missing)}{extra}); "
            "run as root or grant them\n")


def check_refused(p, want, what):
    check(p.returncode == 1 and p.stderr == want and not p.stdout,
          f"{what}: rc {p.returncode}, stderr {p.stderr!r}, wanted {want!r}")


class AsNobody(Watch):
    """A long-running command (watch, export, enforce) as nobody."""

    def __init__(self, caps, *args, nnp=False):
        self.args = as_nobody(caps, *args, nnp=nnp)


def test_caps_refused_one_line():
    """Each command without each one of its capabilities, and without any:
    one line naming what it needs and what is missing, exit status 1,
    before it loads or binds anything."""
    for (what, args), needs in NEEDS.items():
        check_refused(run_as((), *args), refusal(what, needs, needs), f"{what} with none")
        for cap in needs:
            held = [c for c in needs if c != cap]
            if "CAP_SYS_ADMIN" in held and cap in SYS_ADMIN_DOES \
                    and (what, cap) not in NOT_BY_SYS_ADMIN:
                continue  # not refused: it would run
            check_refused(run_as(held, *args), refusal(what, needs, [cap]),
                          f"{what} without {cap}")
    # a kernel's CAP_SYS_ADMIN does all CAP_BPF, CAP_PERFMON and
    # CAP_NET_ADMIN do for BPF: not refused
    p = run_as(KSYM + NETNS, "list", "--state", "LISTEN")
    check(p.returncode == 0 and "connection(s)" in p.stderr,
          f"list with {KSYM + NETNS}: {p.stderr!r}")


def test_caps_watch():
    """watch with CAP_BPF, CAP_PERFMON and CAP_SYSLOG only: keepalive
    deaths of root's connections, owners named."""
    with Netns() as ns, AsNobody(OBSERVE, "--json", "-N", ns.inode) as w:
        ns.blackhole_after_handshake(5600)
        server, client, cport = open_pair(ns, 5600)
        deaths = w.wait(lambda e: e["event"] == "death", 15, "two deaths", count=2)
        owners = {d["lport"]: d["pid"] for d in deaths}
        check(owners == {5600: server.pid, cport: client.pid} and
              all(d["cause"] == "keepalive" for d in deaths), f"deaths {deaths}")
        check(w.stop() == 0, "exit status")


def test_caps_list():
    """list with its four: a namespace in /run/netns and one only a root
    process holds (its /proc/PID/ns/net: CAP_SYS_PTRACE), owners named."""
    hold = ("import socket, time; l = socket.create_server(('127.0.0.1', 5611)); "
            "c = socket.create_connection(('127.0.0.1', 5611)); s = l.accept(); "
            "print('ready', flush=True); time.sleep(60)")
    with Netns() as ns:
        server, client, cport = open_pair(ns, 5610, server_args=(), client_args=())
        unnamed = subprocess.Popen(["unshare", "--net", "sh", "-c",
                                    'ip link set lo up && exec python3 -c "$0"', hold],
                                   stdout=subprocess.PIPE, text=True)
        try:
            check(readline_within(unnamed.stdout, 10).strip() == "ready", "unshared holder")
            p = run_as(OBSERVE + NETNS, "list", "--json", "--state", "ESTABLISHED")
            check(p.returncode == 0, f"list: {p.stderr!r}")
            seen = {(r["lport"], r["pid"]) for r in map(json.loads, p.stdout.splitlines())}
            want = {(5610, server.pid), (cport, client.pid), (5611, unnamed.pid)}
            check(want <= seen, f"list as nobody: {sorted(want - seen)} missing")
        finally:
            unnamed.kill()
            unnamed.wait()


def test_caps_export():
    """export with its four: a scrape counts a namespace's connections."""
    port = free_port()
    with Netns() as ns, AsNobody(OBSERVE + NETNS, "export", "--listen", f"127.0.0.1:{port}"):
        open_pair(ns, 5620, server_args=(), client_args=())
        wait_until(lambda: sample(get(f"http://127.0.0.1:{port}/metrics"),
                                  "tcpkawatch_established_connections", netns=ns.inode,
                                  keepalive="false") == 2, 10, "the connection in /metrics")


def test_caps_enforce():
    """enforce with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN: a new connection
    in its cgroup gets keepalive; --existing, with CAP_SYS_ADMIN and
    CAP_SYS_PTRACE too, one made before (where the kernel has it)."""
    with Netns() as ns, Cgroup() as cg:
        pair(ns, 5630, cg)
        with AsNobody(ENFORCE, "enforce", "--cgroup", cg.path,
                      "--idle", 7) as e:
            _, _, ska, cka = pair(ns, 5631, cg)
            check(ska[:2] == [1, 7] and cka[:2] == [1, 7], f"settings {ska} {cka}")
            check(e.stop() == 0, "exit status")
        if not kernel_has_struct("bpf_tcp_iter_state"):
            return  # no --existing there (test_enforce.py)
        with AsNobody(ENFORCE + NETNS, "enforce", "--existing",
                      "--cgroup", cg.path, "--idle", 9) as e:
            check(any("keepalive set on 2," in line for line in e.err), f"report {e.err}")
            check(len(keepalive_timers(ns, 5630)) == 2, "--existing missed 5630")
            check(e.stop() == 0, "exit status")


def pin_script(caps, policy_args, nnp=False):
    """A shell script for PRIVATE_BPFFS: --pin as nobody with caps, "pinned"
    on stdout, then, after a line on stdin, --status and --off (the same
    caps) and --status as root."""
    def cmd(*args):
        return shlex.join(as_nobody(caps, "enforce", *args, nnp=nnp))
    return (f"{cmd('--pin', *policy_args)} || exit 1; echo pinned; read x; "
            f"{cmd('--status')} && {cmd('--off')} && {shlex.quote(binary())} enforce --status")


def run_pinned(script, ns, cg, port, idle):
    """Run pin_script()'s script; a connection in cg gets the policy; the
    status and the removal work."""
    sh = subprocess.Popen([*PRIVATE_BPFFS, "sh", "-c", script], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = readline_within(sh.stdout, 30)
        if "pinned" not in line:
            sh.kill()
            out, err = sh.communicate(timeout=10)
            check(False, f"--pin: {line}{out} {err}")
        _, _, ska, cka = pair(ns, port, cg)
        check(ska[1] == idle and cka[1] == idle, f"pinned policy not applied {ska} {cka}")
        out, err = sh.communicate("\n", timeout=30)
        check(sh.returncode == 0 and f"idle={idle}s" in out and "enforcement removed" in out
              and out.rstrip().endswith("not enforced: nothing pinned at /sys/fs/bpf/tcpkawatch"),
              f"--status/--off: {out} {err}")
    finally:
        if sh.poll() is None:
            sh.kill()
            sh.wait()


def test_caps_enforce_pin():
    """--pin, --status, --off as nobody in root's 0700 BPF filesystem:
    CAP_DAC_OVERRIDE named when missing; with it, they work."""
    caps = ENFORCE
    p = run_as(caps, "enforce", "--pin", prefix=PRIVATE_BPFFS)
    check_refused(p, refusal("enforce --pin", caps + ("CAP_DAC_OVERRIDE",),
                             ["CAP_DAC_OVERRIDE"], " for /sys/fs/bpf"), "--pin")
    status = ["CAP_BPF", "CAP_DAC_OVERRIDE"]
    check_refused(run_as((), "enforce", "--status", prefix=PRIVATE_BPFFS),
                  refusal("enforce --status", status, status, " for /sys/fs/bpf/tcpkawatch"),
                  "--status")
    with Netns() as ns, Cgroup() as cg:
        run_pinned(pin_script(caps + ("CAP_DAC_OVERRIDE",), ("--cgroup", cg.path, "--idle", 17)),
                   ns, cg, 5640, 17)


def test_caps_memlock():
    """A kernel that counts BPF memory against RLIMIT_MEMLOCK (before
    5.11) with a limit lower than unlimited: CAP_SYS_RESOURCE named when
    missing, and then enough; any later kernel ignores the limit."""
    release = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
    p = run_as(OBSERVE, "-d", "1", memlock="8388608")
    if release >= (5, 11):
        check(p.returncode == 0, f"memlock 8 MiB: {p.stderr!r}")
        return
    check_refused(p, refusal("watch", OBSERVE + ("CAP_SYS_RESOURCE",), ["CAP_SYS_RESOURCE"]),
                  "memlock 8 MiB")
    p = run_as(OBSERVE + ("CAP_SYS_RESOURCE",), "-d", "1", memlock="8388608")
    check(p.returncode == 0, f"with CAP_SYS_RESOURCE: {p.stderr!r}")


def unit(name):
    """A unit file's [Service] settings: {key: [values]}."""
    settings, section = {}, None
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
    return settings


# settings that take capabilities out of the bounding set (systemd.exec(5))
DROPS = {"ProtectKernelLogs": {"CAP_SYSLOG"}, "PrivateDevices": {"CAP_SYS_RAWIO", "CAP_MKNOD"},
         "ProtectClock": {"CAP_SYS_TIME", "CAP_WAKE_ALARM"},
         "ProtectKernelModules": {"CAP_SYS_MODULE"}}


def unit_caps(name):
    """The unit's capabilities, checked to be its bounding set too, and
    kept there by its other settings."""
    s = unit(name)
    caps = s["AmbientCapabilities"][0].split()
    check(s["CapabilityBoundingSet"] == [" ".join(caps)] and s["NoNewPrivileges"] == ["yes"]
          and s["DynamicUser"] == ["yes"] and s["LimitMEMLOCK"] == ["infinity"],
          f"{name}: {s}")
    for key, dropped in DROPS.items():
        check(s.get(key) != ["yes"] or not dropped & set(caps),
              f"{name}: {key}=yes takes {sorted(dropped & set(caps))} away")
    return caps


def unit_args(name, key="ExecStart"):
    cmd = unit(name)[key][0].split()
    check(cmd[0] == "/usr/local/sbin/tcpkawatch", f"{name}: {key} {cmd}")
    return cmd[1:]


def asked_for(args, prefix=()):
    """The capabilities tcpkawatch ARGS names, run with none."""
    p = run_as((), *args, prefix=prefix)
    m = re.match(r"tcpkawatch: .* needs (.*) \(missing: ", p.stderr)
    check(p.returncode == 1 and m, f"{args} with no capability: {p.stderr!r}")
    return re.split(r", | and ", m.group(1))


@same_on_every_kernel
def test_caps_systemd_units_verify():
    """systemd-analyze verify says nothing of either unit (ExecStart=
    rewritten to the built binary: verify wants it to exist)."""
    check(shutil.which("systemd-analyze"), "systemd-analyze is missing")
    names = sorted(os.listdir(UNITS))
    check(names == ["tcpkawatch-enforce.service", "tcpkawatch-export.service"], f"{names}")
    with tempfile.TemporaryDirectory(prefix="tkw-units-") as d:
        for name in names:
            with open(os.path.join(UNITS, name)) as src, open(os.path.join(d, name), "w") as dst:
                dst.write(src.read().replace("/usr/local/sbin/tcpkawatch", TCPKAWATCH))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            *(os.path.join(d, n) for n in names)],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and not p.stdout and not p.stderr,
              f"systemd-analyze verify: rc {p.returncode}: {p.stdout}{p.stderr}")


def test_caps_systemd_units():
    """Each unit grants exactly what tcpkawatch asks for its commands;
    those commands work with that and no-new-privileges."""
    caps = unit_caps("tcpkawatch-export.service")
    args = unit_args("tcpkawatch-export.service")
    check(sorted(asked_for(args)) == sorted(caps), f"export unit {caps}, asked {asked_for(args)}")
    port = free_port()
    args[args.index("--listen") + 1] = f"127.0.0.1:{port}"
    with Netns() as ns, AsNobody(caps, *args, nnp=True):
        open_pair(ns, 5650, server_args=(), client_args=())
        wait_until(lambda: sample(get(f"http://127.0.0.1:{port}/metrics"),
                                  "tcpkawatch_established_connections", netns=ns.inode,
                                  keepalive="false") == 2, 10, "the unit's export")

    name = "tcpkawatch-enforce.service"
    caps = unit_caps(name)
    start, stop = unit_args(name), unit_args(name, "ExecStop")
    check(start[:2] == ["enforce", "--pin"] and stop == ["enforce", "--off"], f"{start} {stop}")
    asked = asked_for(start, prefix=PRIVATE_BPFFS)
    check(sorted(asked) == sorted(caps), f"enforce unit {caps}, asked {asked}")
    with Netns() as ns, Cgroup() as cg:
        run_pinned(pin_script(caps, start[2:] + ["--cgroup", cg.path], nnp=True), ns, cg, 5651,
                   int(start[start.index("--idle") + 1]))


def test_caps_kill():
    """kill with its six closes a connection of root's in a namespace."""
    with Netns() as ns:
        _, client, cport = kill_pair(ns, 5630)
        p = run_as(OBSERVE + ("CAP_NET_ADMIN",) + NETNS, "kill", "-N", ns.inode, "--tuple",
                   f"127.0.0.1:{cport},127.0.0.1:5630")
        check(p.returncode == 0 and "1 connection(s) closed, 0 could not be" in p.stderr,
              f"kill as nobody: rc {p.returncode} {p.stdout!r} {p.stderr!r}")
        check(client.wait("error", timeout=10)["error"] == "ECONNABORTED", "the client")
