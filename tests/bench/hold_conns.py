#!/usr/bin/env python3
"""Open N loopback connections to the listeners on PORTS (both ends held
by this process: 2N descriptors, within the 20,000 a process may have),
print "ready", and hold them until stdin closes. With IDLE, keepalive on
both ends every IDLE seconds (the peer answers). For make bench."""
import resource
import socket
import sys

n, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")]
idle = int(sys.argv[3]) if len(sys.argv) > 3 else 0


def keepalive(s):
    if idle:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, idle)
    return s


resource.setrlimit(resource.RLIMIT_NOFILE, (2 * n + 100, 2 * n + 100))
listeners = []
for port in ports:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    listeners.append(ls)
held = []
for i in range(n):
    ls = listeners[i % len(listeners)]
    c = socket.create_connection(ls.getsockname())
    a, _ = ls.accept()
    held += [keepalive(c), keepalive(a)]
print("ready", flush=True)
sys.stdin.read()
