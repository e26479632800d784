#!/usr/bin/env python3
"""Starts the tests' peers (peer.py) by fork(), not each as a new
interpreter: under qemu's TCG a python3 start takes about a second of
CPU, a fork a few milliseconds, and the suite starts hundreds of peers.

ka.Forker runs one per test run. Each request is a message on the socket
whose descriptor is argv[1]: JSON {"argv", "netns", "cgroup"} with three
descriptors, the child's stdin, stdout and stderr. The child joins the
cgroup (if any), then the network namespace /run/netns/NETNS, as `echo $$
> cgroup.procs; exec ip netns exec NETNS python3 peer.py ARGV` did, and
runs peer.main() with ARGV: a process of its own, with its own
descriptors, its comm python3 as before. The answer is its pid, with a
pidfd of it. The end of the socket (the run's end) ends this process;
the peers end on their own (--lifetime) or with their namespace."""
import ctypes
import json
import os
import socket
import sys
import traceback

import peer

CLONE_NEWNET = 0x40000000


def child(req, fds, ctl):
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    ctl.close()
    if req["cgroup"]:
        with open(os.path.join(req["cgroup"], "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    fd = os.open(f"/run/netns/{req['netns']}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET):
        raise OSError(ctypes.get_errno(), f"setns into {req['netns']}")
    os.close(fd)
    sys.argv = ["peer.py", *req["argv"]]
    peer.main()


def exit_status(req, fds, ctl):
    """Runs the child; its exit status."""
    try:
        child(req, fds, ctl)
        status = 0
    except SystemExit as e:  # argparse's
        status = 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
    except OSError:
        pass  # nobody reads it any more
    return status


def reap():
    """The children that ended (zombies until then)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def main():
    ctl = socket.socket(fileno=int(sys.argv[1]))
    while True:
        msg, fds, _, _ = socket.recv_fds(ctl, 65536, 3)
        reap()
        if not msg:
            return
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = exit_status(json.loads(msg), fds, ctl)
            finally:
                os._exit(status)
        pidfd = os.pidfd_open(pid)  # before any reap(): it is there
        for fd in fds:
            os.close(fd)
        socket.send_fds(ctl, [str(pid).encode()], [pidfd])
        os.close(pidfd)


if __name__ == "__main__":
    main()
