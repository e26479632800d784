"""The documentation agrees with the program: for each command, the options
its --help lists are the options the man page (doc/tcpkawatch.8) and the
bash completion (tools/bash-completion/tcpkawatch) know, both ways; the
man page lists every record kind of doc/schema.json with its keys in
order, every key with its meaning, every value of an enum; it is
lint-clean (groff, mandoc); `make install` puts the binary, the man page,
the completion and the systemd units (naming the installed binary) under
DESTDIR and PREFIX, and `make uninstall` removes them. Needs neither BPF
nor root."""
import os
import re
import shutil
import subprocess
import tempfile

from ka import ROOT, SCHEMA, TCPKAWATCH, check, same_on_every_kernel

MAN = os.path.join(ROOT, "doc", "tcpkawatch.8")
COMPLETION = os.path.join(ROOT, "tools", "bash-completion", "tcpkawatch")
UNITS = ("tcpkawatch-enforce.service", "tcpkawatch-export.service")
OPTION = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[A-Za-z0-9])(?![\w-])")


def _run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def help_text(cmd):
    p = _run(TCPKAWATCH, *([] if cmd == "watch" else [cmd]), "--help")
    check(p.returncode == 0 and p.stdout, f"{cmd} --help: exit {p.returncode}: {p.stderr}")
    return p.stdout


def commands():
    """watch, and the commands watch's --help points to"""
    found = re.findall(r": tcpkawatch ([a-z]+)\b", help_text("watch"))
    check(found, "watch --help names no other command")
    return ["watch"] + found


def help_options(cmd):
    """argp's option lines: "  -j, --json ...", "      --csv ...", "  -x ..." """
    opts = set()
    for line in help_text(cmd).splitlines():
        m = re.match(r"  (-\w)(?:, (--[a-z0-9-]+))?(?=[ =]|$)|      (--[a-z0-9-]+)", line)
        if m:
            opts.update(o for o in m.groups() if o)
    check(opts, f"{cmd} --help lists no option")
    return opts


def unroff(text):
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\(en", "-").replace("\\&", "")


def man_sections():
    """{".SH name": [lines]}"""
    sections, name = {}, None
    with open(MAN) as f:
        for line in f.read().splitlines():
            if line.startswith(".SH "):
                name = line[4:].strip('"')
                sections[name] = []
            elif name:
                sections[name].append(line)
    return sections


def man_options():
    """{command: options}: under OPTIONS, each .SS names a command (or
    "every command"), and the tag line after each .TP names options."""
    per, cur, tag_next = {}, None, False
    for line in man_sections()["OPTIONS"]:
        if line.startswith(".SS "):
            cur = line[4:].strip('"')
            per[cur] = set()
        elif line.startswith(".TP"):
            tag_next = True
        elif tag_next:
            tag_next = False
            check(cur, f"man page: option {line!r} outside a .SS of OPTIONS")
            per[cur].update(OPTION.findall(unroff(line)))
    common = per.pop("every command", set())
    check(common, "man page: no 'every command' options")
    return {c: o | common for c, o in per.items()}


def completion(*words):
    """what _tcpkawatch offers for the last of words"""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_tcpkawatch; printf "%s\\n" "${COMPREPLY[@]}"')
    p = _run("bash", "--norc", "-c", script, "bash", COMPLETION, "tcpkawatch", *words)
    check(p.returncode == 0 and not p.stderr,
          f"completion of {words}: exit {p.returncode}: {p.stderr}")
    return set(p.stdout.split())


def _compare(cmd, want, got, where):
    missing, extra = want - got, got - want
    check(not missing and not extra,
          f"{cmd}: options of --help not in {where}: {sorted(missing)}; "
          f"in {where}, not in --help: {sorted(extra)}")


@same_on_every_kernel
def test_cli_docs_man_options():
    man = man_options()
    cmds = commands()
    check(set(man) == set(cmds),
          f"man page OPTIONS has sections {sorted(man)}, the commands are {cmds}")
    synopsis = unroff("\n".join(man_sections()["SYNOPSIS"]))
    for cmd in cmds:
        _compare(cmd, help_options(cmd), man[cmd], "the man page")
        if cmd != "watch":
            check(f'.SY "tcpkawatch {cmd}"' in synopsis, f"man page SYNOPSIS lacks {cmd}")


@same_on_every_kernel
def test_cli_docs_completion_options():
    cmds = commands()
    got = completion("")
    check(got == set(cmds[1:]), f"completion offers commands {sorted(got)}, not {cmds[1:]}")
    for cmd in cmds:
        words = ["-"] if cmd == "watch" else [cmd, "-"]
        _compare(cmd, help_options(cmd), completion(*words), "the completion")
    # values: --state names (any case, also after '='), files for -s
    check(completion("list", "--state", "est") == {"ESTABLISHED"}, "--state est")
    check(completion("list", "--state", "=", "time_") == {"TIME_WAIT"}, "--state=time_")
    check("auto" in completion("enforce", "--user-timeout", ""), "--user-timeout auto")
    check(completion("-s", os.path.join(ROOT, "Makefil")) == {os.path.join(ROOT, "Makefile")},
          "-s completes file names")


@same_on_every_kernel
def test_cli_docs_man_schema():
    sections = man_sections()
    output = sections["OUTPUT"]
    # each kind: its .TP tag, then one "Keys:" line (maybe wrapped) ending in "."
    kinds, tag_next, kind, keys_text = {}, False, None, None
    for line in output:
        if line.startswith(".TP"):
            tag_next = True
        elif tag_next:
            tag_next = False
            words = unroff(line).split()
            kind = words[1] if len(words) > 1 and words[0].startswith(".") else None
        elif line.startswith("Keys:"):
            keys_text = line[5:]
        elif keys_text is not None and not line.startswith("."):
            keys_text += " " + line
        if keys_text is not None and keys_text.endswith("."):
            check(kind, f"man page: a Keys: line without a kind: {keys_text}")
            kinds[kind] = [k.strip() for k in keys_text.rstrip(".").split(",")]
            keys_text = None
    want = {k: r["keys"] for k, r in SCHEMA["records"].items()}
    for k in want.keys() | kinds.keys():
        check(kinds.get(k) == want.get(k),
              f"record {k}: the man page's keys {kinds.get(k)}, the schema's {want.get(k)}")
    # each key: a .TP tag of its own under "Keys"
    in_keys, tag_next, tags = False, False, set()
    for line in output:
        if line.startswith(".SS "):
            in_keys = line[4:].strip('"') == "Keys"
        elif in_keys and line.startswith(".TP"):
            tag_next = True
        elif tag_next:
            tag_next = False
            words = unroff(line).split()
            if len(words) == 2 and words[0] == ".B":
                tags.add(words[1])
    keys = set(SCHEMA["keys"])
    check(keys <= tags, f"keys without a meaning in the man page: {sorted(keys - tags)}")
    values = {v for k in SCHEMA["keys"].values() for v in k.get("enum", ())}
    text = unroff("\n".join(output))
    missing = [v for v in values if not re.search(rf"(?<![\w-]){v}(?![\w-])", text)]
    check(not missing, f"values the man page's OUTPUT does not name: {missing}")
    for name in ("EXIT STATUS", "FILES", "EXAMPLES", "METRICS"):
        check(name in sections, f"man page has no {name} section")
    exits = unroff("\n".join(sections["EXIT STATUS"]))
    check(all(f".B {n}" in exits for n in "012"), "EXIT STATUS: 0, 1 and 2")


@same_on_every_kernel
def test_cli_docs_man_lint():
    for cmd in (["groff", "-ww", "-z", "-man", MAN], ["mandoc", "-Tlint", MAN]):
        check(shutil.which(cmd[0]), f"{cmd[0]} is missing (tools/bootstrap.sh installs it)")
        p = _run(*cmd)
        check(p.returncode == 0 and not p.stdout and not p.stderr,
              f"{' '.join(cmd)}: exit {p.returncode}: {p.stdout}{p.stderr}")


@same_on_every_kernel
def test_cli_docs_install():
    binary = os.path.join(ROOT, "tcpkawatch")
    check(os.path.exists(binary), "no ./tcpkawatch: make it first")
    # the packagers' variables only from this command line; -o: never rebuild
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PREFIX", "DESTDIR",
                        "SBINDIR", "MANDIR", "MAN8DIR", "BASHCOMPDIR", "SYSTEMDUNITDIR")}
    with tempfile.TemporaryDirectory(prefix="tkw-install-") as dest:
        for prefix in ("/usr", None):
            args = [f"DESTDIR={dest}"] + ([f"PREFIX={prefix}"] if prefix else [])
            where = prefix or "/usr/local"
            p = _run("make", "-s", "-C", ROOT, "-o", "tcpkawatch", "install", *args, env=env)
            check(p.returncode == 0, f"make install {args}: {p.stdout}{p.stderr}")
            files = {
                f"{where}/sbin/tcpkawatch": (binary, 0o755),
                f"{where}/share/man/man8/tcpkawatch.8": (MAN, 0o644),
                f"{where}/share/bash-completion/completions/tcpkawatch": (COMPLETION, 0o644),
            }
            files.update({f"{where}/lib/systemd/system/{u}":
                          (os.path.join(ROOT, "tools", "systemd", u), 0o644) for u in UNITS})
            found = {os.path.join(d, f)[len(dest):]
                     for d, _, fs in os.walk(dest) for f in fs}
            check(found == set(files), f"make install {args} put {sorted(found)}")
            for path, (src, mode) in files.items():
                st = os.stat(dest + path)
                check(st.st_mode & 0o7777 == mode, f"{path}: mode {st.st_mode & 0o7777:o}")
                with open(src, "rb") as a, open(dest + path, "rb") as b:
                    # a unit names the binary where it went
                    want = a.read().replace(b"/usr/local/sbin/", f"{where}/sbin/".encode())
                    check(want == b.read(), f"{path} is not {src}")
            p = _run("make", "-s", "-C", ROOT, "uninstall", *args, env=env)
            check(p.returncode == 0, f"make uninstall {args}: {p.stdout}{p.stderr}")
            left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
            check(not left, f"make uninstall {args} left {left}")
