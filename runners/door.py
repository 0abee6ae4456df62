"""The door into a dashboard's private network (runners.netns): a small process that lives
in the framework's network namespace and hands the runner connections to the framework.

Started by the runner in a new user and network namespace (loopback up, nothing else), it
reads one-byte requests from the runner on the descriptor it is given and answers each:

- ``c``: a connection to the framework, 127.0.0.1:<port> here, passed over as a
  descriptor (``ok``), or ``e`` and the errno;
- ``w``: ``up`` once this namespace has a default route (the egress helper configured it),
  ``no`` after five seconds.

It exits when the runner closes its end (or dies: a SIGKILL follows its parent).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
import time


def has_route() -> bool:
    """A default route in this process's network namespace (IPv4 or IPv6)."""
    try:
        with open("/proc/net/route", encoding="ascii") as f:
            if any(line.split()[1:2] == ["00000000"] for line in list(f)[1:]):
                return True
        with open("/proc/net/ipv6_route", encoding="ascii") as f:
            return any(line.split()[0:2] == ["0" * 32, "00"] for line in f)
    except OSError:
        return False


def answer(channel: socket.socket, port: int, request: bytes) -> None:
    if request == b"c":
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError as e:
            channel.send(b"e%d" % (e.errno or errno.ECONNREFUSED))
            return
        with connection:
            socket.send_fds(channel, [b"ok"], [connection.fileno()])
    elif request == b"w":
        deadline = time.monotonic() + 5
        while not has_route() and time.monotonic() < deadline:
            time.sleep(0.005)
        channel.send(b"up" if has_route() else b"no")
    else:
        channel.send(b"e%d" % errno.EINVAL)


def spare_port(port: int, ranges: str = "/proc/sys/net/ipv4/ip_local_port_range") -> None:
    """Keep the framework's port out of this namespace's ephemeral ports: a connection made
    here (the readiness probe through this door, pasta's) took it once, and the framework
    failed to listen ("address already in use", in a network of its own: the CI's soak).
    Called in the door's process before exec, while it has every right in the namespace."""
    first, last = (port + 1, 60999) if port < 50000 else (32768, port - 1)
    with contextlib.suppress(OSError, ValueError), open(ranges, "w", encoding="ascii") as f:
        f.write(f"{first} {last}\n")


def main() -> int:
    port, fd = int(sys.argv[1]), int(sys.argv[2])
    channel = socket.socket(fileno=fd)
    while request := channel.recv(16):
        answer(channel, port, request)
    return 0


if __name__ == "__main__":
    sys.exit(main())
