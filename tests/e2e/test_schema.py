"""One schema: every kind of record watch, its stats file and list write
has exactly the keys doc/schema.json gives it, in that order, of their
types (ka.check_schema; Watch and list check every record of every test
the same way; export's labels are checked in test_export)."""
import json
import os

from ka import (SCHEMA, SCHEMA_KINDS_SEEN, TCPKAWATCH, Netns, Watch, check, check_schema, run,
                same_on_every_kernel)
from test_keepalive import KA, open_pair


def test_schema_every_kind_of_record():
    path = f"/tmp/tkw-schema-{os.getpid()}.jsonl"
    try:
        with Netns() as ns, Watch("-N", ns.inode, "--stats-file", path) as w:
            ns.blackhole_after_handshake(5600)
            open_pair(ns, 5600)  # probes, then two deaths
            alive = open_pair(ns, 5601, server_args=(), client_args=KA)  # answered
            w.wait(lambda e: e["event"] == "death", 15, "two deaths", count=2)
            w.wait(lambda e: e["event"] == "answered", 10, "an answer")
            for args in (("--json",), ("--csv",)):
                out = run(TCPKAWATCH, "list", "-N", str(ns.inode),
                          *args).stdout.splitlines()
                if args == ("--json",):
                    check(out, "list --json wrote nothing")
                    check_schema([json.loads(line) for line in out], "socket")
                else:
                    check(out[0].split(",") == SCHEMA["records"]["socket"]["keys"],
                          f"CSV header {out[0]}")
            alive[1].stop()
            alive[0].stop()
            ns.wait_no_connections()
            check(w.stop() == 0, "exit code")  # checks every record it wrote
        with open(path) as f:
            check_schema([json.loads(line) for line in f])
        missing = {"probe", "answered", "death", "connection", "summary", "socket"} - SCHEMA_KINDS_SEEN
        check(not missing, f"kinds of record never seen: {missing}")
    finally:
        if os.path.exists(path):
            os.unlink(path)


@same_on_every_kernel
def test_schema_file_is_consistent():
    """Every key a record lists is documented, and every documented key is
    used by some record or metric label."""
    used = {k for r in SCHEMA["records"].values() for k in r["keys"]}
    documented = set(SCHEMA["keys"])
    check(used <= documented, f"undocumented keys: {used - documented}")
    check(documented <= used | set(SCHEMA["metric_labels"]),
          f"documented keys nobody writes: {documented - used}")
    check(set(SCHEMA["metric_labels"]) <= documented, "a metric label not documented")
