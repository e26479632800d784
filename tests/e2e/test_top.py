"""tcpkawatch top, driven in tmux: probes climb on screen, q quits."""
import os

from ka import TCPKAWATCH, Netns, check, check_nothing_attached, run, wait_until
from test_keepalive import open_pair


def test_top_in_tmux():
    session = f"tkw-top-{os.getpid()}"
    ka = ("--idle", 1, "--intvl", 2, "--cnt", 10)  # probes climb for 19 s
    with Netns() as ns:
        ns.blackhole_after_handshake(5500)
        server, client, _ = open_pair(ns, 5500, server_args=ka, client_args=ka)
        open_pair(ns, 5501, server_args=(), client_args=())
        run("tmux", "new-session", "-d", "-s", session, "-x", "170", "-y", "40", TCPKAWATCH, "top")
        try:
            def screen():
                return run("tmux", "capture-pane", "-p", "-t", session, check_rc=False).stdout

            def column(text, title):
                """The values of one column on the screen, by its title."""
                lines = text.splitlines()
                titles = next((line.split() for line in lines if line.startswith("NETNS")), [])
                i = titles.index(title) if title in titles else None
                return [(line, line.split()[i]) for line in lines
                        if i is not None and line[:1].isdigit() and len(line.split()) > i]

            def probes_of_5500():
                return [int(v) for line, v in column(screen(), "PROBES")
                        if ":5500 " in line and v.isdigit()]

            wait_until(lambda: len(probes_of_5500()) == 2 and min(probes_of_5500()) >= 1, 10,
                       "both ends of 5500 with a probe out on screen")
            first = min(probes_of_5500())
            wait_until(lambda: min(probes_of_5500() or [0]) > first, 10,
                       f"the probe count to climb past {first}")
            text = screen()
            rows = [line for line in text.splitlines() if line[:1].isdigit()]
            check(rows and ":5500" in rows[0], f"probing connections not on top:\n{text}")
            check("deaths: keepalive" in text, f"no death totals:\n{text}")
            owners = sorted(v for line, v in column(text, "PID") if ":5500 " in line)
            check(owners == sorted([str(server.pid), str(client.pid)])
                  and all(v == "python3" for line, v in column(text, "COMM") if ":5500 " in line),
                  f"PID and COMM of 5500's ends:\n{text}")
            check("-0.0s" not in text, f"a timer shown as -0.0s:\n{text}")
            run("tmux", "send-keys", "-t", session, "q")
            wait_until(lambda: run("tmux", "has-session", "-t", session,
                                   check_rc=False).returncode != 0, 10, "top to quit on q")
            check_nothing_attached()
        finally:
            run("tmux", "kill-session", "-t", session, check_rc=False)
