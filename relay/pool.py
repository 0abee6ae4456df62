"""Idle connections to targets, kept for the next request to the same target (relay.server)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relay.policy import Target
    from relay.upstream import Upstream


class IdleUpstreams:
    """Connections to targets whose last response is complete, kept for the next request
    to the same target from any client connection. A client connection follows its
    requests from target to target (the hub's proxy sends one viewer's request to one
    dashboard and the next viewer's to another over the same connection): without this,
    every switch would connect anew, to the runner and through it to the framework."""

    PER_TARGET = 16
    MAX_IDLE = 30.0  # seconds: well under every target's own keep-alive timeout

    def __init__(self) -> None:
        self._idle: dict[Target, list[tuple[Upstream, float]]] = {}

    def park(self, upstream: Upstream) -> bool:
        """Keep ``upstream`` if it can carry another request; False: the caller closes it."""
        transport = upstream.transport
        if (
            transport is None
            or transport.is_closing()
            or not upstream.ready
            or upstream.busy
            or not upstream.reusable
        ):
            return False
        idle = self._idle.setdefault(upstream.target, [])
        if len(idle) >= self.PER_TARGET:
            return False
        upstream.detached = True
        upstream.parked = self
        transport.resume_reading()  # to notice the target closing it
        idle.append((upstream, time.monotonic()))
        return True

    def take(self, target: Target) -> Upstream | None:
        idle = self._idle.get(target)
        now = time.monotonic()
        while idle:
            upstream, since = idle.pop()
            transport = upstream.transport
            if now - since < self.MAX_IDLE and transport is not None and not transport.is_closing():
                upstream.parked = None
                return upstream
            upstream.parked = None
            if transport is not None:
                transport.close()
        return None

    def discard(self, upstream: Upstream) -> None:
        """A parked connection closed, or spoke out of turn."""
        idle = self._idle.get(upstream.target, [])
        self._idle[upstream.target] = [(u, t) for u, t in idle if u is not upstream]
        upstream.parked = None
        if upstream.transport is not None:
            upstream.transport.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for upstream, _ in idle:
                if upstream.transport is not None:
                    upstream.transport.close()
        self._idle.clear()
