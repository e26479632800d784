#!/usr/bin/env python3
"""Open N loopback connections to the listeners on PORTS (both ends held
by this process: 2N descriptors, within the 20,000 a process may have),
print "ready", and hold them until stdin closes. With IDLE[,INTVL],
keepalive on both ends: the first probe after IDLE seconds, the next
INTVL (default IDLE) seconds later; turned on as each connection opens,
or with "together" for all in one tight loop once all are open, so that
their first probes go out within a few milliseconds of each other (a
burst: thousands of them overflow the loopback backlog). With "split",
the accepted ends go to a child process on CPU 1 and the connecting ends
stay here on CPU 0, each turning keepalive on for its own: each end's
keepalive timer runs on its own CPU, so both ends of a connection probe at
the same moment on two CPUs. With "on-signal", as "together" but only at
SIGUSR1, after "ready", and then it prints "armed": several processes
armed at once probe in the same second. For make bench and the tests that
need many connections at once.

usage: hold_conns.py N PORT[,PORT...] [IDLE[,INTVL] [together|split|on-signal]]"""
import ctypes
import os
import resource
import signal
import socket
import sys

n, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2].split(",")]
ka = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else []
idle, intvl = (ka + ka)[:2] if ka else (0, 0)
together = sys.argv[4:] == ["together"]
split = sys.argv[4:] == ["split"]
on_signal = sys.argv[4:] == ["on-signal"]
if on_signal:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # before anyone can send it


def keepalive(s):
    if idle:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


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
    held += [c, a]
    if not together and not split and not on_signal:
        keepalive(c)
        keepalive(a)
if split:
    ready_r, ready_w = os.pipe()
    child = os.fork()
    side = held[1::2] if child == 0 else held[0::2]  # accepted ends / connecting ends
    for s in held[0::2] if child == 0 else held[1::2]:
        s.close()  # the other process holds these
    if child == 0:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: ends with us
    os.sched_setaffinity(0, {1 if child == 0 else 0})
    for s in side:
        keepalive(s)
    if child == 0:
        os.write(ready_w, b".")
        signal.pause()
    os.read(ready_r, 1)
elif together:
    for s in held:
        keepalive(s)
print("ready", flush=True)
if on_signal:
    signal.sigwait({signal.SIGUSR1})
    for s in held:
        keepalive(s)
    print("armed", flush=True)
sys.stdin.read()
