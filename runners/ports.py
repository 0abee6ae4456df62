"""Free TCP ports on loopback for a framework (the runner) and a runner (the launcher)."""

from __future__ import annotations

import random
import socket

from runners.errors import BindError


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_port_in(ports: tuple[int, int]) -> int:
    """A port of the frameworks' range that nothing listens on now (tried at random)."""
    first, last = ports
    candidates = list(range(first, last + 1))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BindError(f"no free port from {first} to {last} for the framework")
