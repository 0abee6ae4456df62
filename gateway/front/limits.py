"""Per-viewer limits at the front door: one viewer cannot take a dashboard from the others.

Behind the hub's proxy every viewer arrives from the proxy's address, so the limits are
kept per viewer: the signed-in user's name, or for anonymous visitors of public dashboards
the client address the proxy reports. Two limits, both off at 0:

- requests: a token bucket per viewer (``rate`` per second, up to ``burst`` at once: a
  dashboard's page load with all its assets stays far below it);
- WebSockets: at most ``sockets`` open at once per viewer (one per open tab is usual).

Memory is bounded: buckets that have refilled are forgotten when there are many.
"""

from __future__ import annotations

from gateway.domain.tally import Tally

MAX_TRACKED = 10_000


class ViewerLimits:
    def __init__(self, rate: float, burst: int, sockets: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.sockets = sockets
        self._buckets: dict[str, tuple[float, float]] = {}  # viewer -> (tokens, when)
        self._open = Tally()

    @property
    def tracked(self) -> int:
        """Viewers with a bucket in memory."""
        return len(self._buckets)

    def allow_request(self, viewer: str, now: float) -> bool:
        """Take one request from ``viewer``'s bucket; False when it is empty."""
        if self.rate <= 0:
            return True
        tokens, when = self._buckets.get(viewer, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens < 1:
            self._buckets[viewer] = (tokens, now)
            return False
        if len(self._buckets) >= MAX_TRACKED and viewer not in self._buckets:
            self._forget_full(now)
        self._buckets[viewer] = (tokens - 1, now)
        return True

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (they would start full anyway)."""
        refill = self.burst / self.rate
        self._buckets = {v: b for v, b in self._buckets.items() if now - b[1] < refill}

    def allow_socket(self, viewer: str) -> bool:
        return self.sockets <= 0 or self._open[viewer] < self.sockets

    def socket_opened(self, viewer: str) -> None:
        self._open.opened(viewer)

    def socket_closed(self, viewer: str) -> None:
        self._open.closed(viewer)
