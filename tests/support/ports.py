"""Ports for servers under test: outside the kernel's ephemeral range, never the same twice.

A port the kernel handed out with ``bind(0)`` is released before the server binds it, and the
kernel may hand the same number to the next ``bind(0)`` — two servers of one stack then race
for it ("Address already in use"). Picking below the ephemeral range (32768-60999 on Linux)
also keeps outgoing connections' source ports from landing on a server's port.
"""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000
_given: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nobody listens on now and this process has not handed out before."""
    for _ in range(1000):
        port = random.randint(LOW, HIGH)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port in {LOW}-{HIGH}")
