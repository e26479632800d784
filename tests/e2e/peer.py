#!/usr/bin/env python3
"""A TCP peer for the end-to-end tests, run inside a test namespace.

One JSON object per line on stdout tells the test what happened:
{"ready": port} once listening or connected, {"pid": N} first,
{"error": "ETIMEDOUT", "after_s": 5.09} when a blocking call fails.
It exits on its own (--lifetime) so that nothing outlives a test.
"""
import argparse
import errno
import json
import os
import select
import signal
import socket
import struct
import sys
import time


def say(**kw):
    print(json.dumps(kw), flush=True)


def set_keepalive(s, a):
    if a.idle is None:
        return
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, a.idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, a.intvl)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, a.cnt)


def go_keepalive(s, idle):
    """Keepalive as Go's standard library turns it on once connected:
    SO_KEEPALIVE, then TCP_KEEPINTVL and TCP_KEEPIDLE, both idle."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    say(set=idle)


def ka_settings(s):
    """What the socket's keepalive is now: [on, idle, intvl, cnt, user_timeout]."""
    return [s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
            s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)]


def configure(s, a):
    set_keepalive(s, a)
    if a.user_timeout is not None:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, a.user_timeout)
    if a.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    if a.sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, a.sndbuf)


def wait_for_command(conn, a, start):
    """Block in the action the test asked for; report how it ended."""
    try:
        if a.delay:
            time.sleep(a.delay)
        if a.send:
            conn.sendall(b"x" * a.send)
        if a.fill:
            # Write until the peer's window closes and our buffer is full.
            conn.setblocking(False)
            total = 0
            while True:
                try:
                    total += conn.send(b"z" * 65536)
                except BlockingIOError:
                    break
            say(filled=total)
            conn.setblocking(True)
        if a.linger0:
            time.sleep(a.hold)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            say(closed="linger0")
            return
        if a.no_read:
            time.sleep(a.hold)
            return
        r, _, _ = select.select([conn], [], [], a.lifetime)
        if not r:
            say(error="lifetime")
            return
        data = conn.recv(1)
        say(eof=len(data) == 0, after_s=round(time.monotonic() - start, 3))
    except OSError as e:
        say(error=errno.errorcode.get(e.errno, str(e.errno)),
            after_s=round(time.monotonic() - start, 3))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("--addr", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=int)
    p.add_argument("--intvl", type=int, default=1)
    p.add_argument("--cnt", type=int, default=2)
    p.add_argument("--user-timeout", type=int)
    p.add_argument("--syncnt", type=int)
    p.add_argument("--rcvbuf", type=int)
    p.add_argument("--sndbuf", type=int)
    p.add_argument("--delay", type=float, default=0, help="seconds to wait before sending")
    p.add_argument("--send", type=int, default=0, help="bytes to send first")
    p.add_argument("--fill", action="store_true", help="write until blocked")
    p.add_argument("--no-read", action="store_true", help="never read; hold")
    p.add_argument("--linger0", action="store_true", help="abortive close after --hold")
    p.add_argument("--hold", type=float, default=1.0)
    p.add_argument("--lifetime", type=float, default=60.0)
    p.add_argument("--ka-after-accept", action="store_true",
                   help="server: keepalive on the accepted socket, not the listener")
    p.add_argument("--late", action="store_true",
                   help="client: keepalive only once connected, as Go turns it on (--idle's, "
                        "if given), then for each IDLE line on stdin, until stdin ends")
    a = p.parse_args()
    signal.alarm(int(a.lifetime) + 5)
    family = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    say(pid=os.getpid())
    start = time.monotonic()
    if a.mode == "server":
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if a.ka_after_accept:  # its timer starts once the process holds it
            a.listener_idle, a.idle = a.idle, None
        configure(ls, a)  # inherited by accepted sockets
        ls.bind((a.addr, a.port))
        ls.listen(8)
        say(ready=a.port)
        conn, _ = ls.accept()  # inherits the listener's options
        if a.ka_after_accept:
            a.idle = a.listener_idle
            set_keepalive(conn, a)
        say(accepted=conn.getpeername()[1], ka=ka_settings(conn))
        start = time.monotonic()
        wait_for_command(conn, a, start)
    else:
        if a.late:  # not before connect()
            a.late_idle, a.idle = a.idle, None
        s = socket.socket(family, socket.SOCK_STREAM)
        configure(s, a)
        if a.syncnt:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a.syncnt)
        try:
            s.connect((a.addr, a.port))
        except OSError as e:
            say(error=errno.errorcode.get(e.errno, str(e.errno)),
                after_s=round(time.monotonic() - start, 3))
            return
        say(ready=s.getsockname()[1], ka=ka_settings(s))
        if a.late:
            if a.late_idle:
                go_keepalive(s, a.late_idle)
            for line in sys.stdin:
                go_keepalive(s, int(line))
            return
        start = time.monotonic()
        wait_for_command(s, a, start)


if __name__ == "__main__":
    main()
