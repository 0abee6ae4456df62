"""Per-creator quotas: how many dashboards one creator may own and run, and how fast they may
create and start them (``c.Podium.max_dashboards_per_user`` and friends; 0: no limit).

Admins are exempt. What is counted comes from the store (dashboards owned; starting or
ready ones running), so a restart of the gateway forgets nothing; the rates are windows
of the last hour kept in this process (a bound against a script in a loop, not an
accounting).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from gateway.domain.dashboards import Dashboard
from gateway.errors import Conflict, TooMany

WINDOW = 3600.0
RUNNING = ("starting", "ready")


@dataclass
class Quotas:
    owned: int = 0
    running: int = 0
    creates_per_hour: int = 0
    starts_per_hour: int = 0
    _creates: dict[str, deque[float]] = field(default_factory=dict)
    _starts: dict[str, deque[float]] = field(default_factory=dict)

    def check_create(self, owner: str, owned: list[Dashboard]) -> None:
        """Before ``owner`` creates a dashboard (they own ``owned``); raise when over."""
        if self.owned and len(owned) >= self.owned:
            raise Conflict(
                f"{owner} owns {len(owned)} dashboards, the most this hub allows "
                f"(c.Podium.max_dashboards_per_user = {self.owned}): delete one first"
            )
        self._take(self._creates, owner, self.creates_per_hour, "create", "creates_per_hour")

    def check_start(self, owner: str, owned: list[Dashboard]) -> None:
        """Before one of ``owner``'s dashboards starts; raise when over."""
        running = sum(d.status in RUNNING for d in owned)
        if self.running and running >= self.running:
            raise Conflict(
                f"{owner} has {running} dashboards running, the most this hub allows "
                f"(c.Podium.max_running_per_user = {self.running}): stop one first"
            )
        self._take(self._starts, owner, self.starts_per_hour, "start", "starts_per_hour")

    @staticmethod
    def _take(
        windows: dict[str, deque[float]], owner: str, limit: int, what: str, option: str
    ) -> None:
        if not limit:
            return
        now = time.monotonic()
        window = windows.setdefault(owner, deque())
        while window and now - window[0] > WINDOW:
            window.popleft()
        if len(window) >= limit:
            wait = int(WINDOW - (now - window[0])) + 1
            raise TooMany(
                f"{owner} may {what} {limit} dashboards an hour on this hub "
                f"(c.Podium.{option}); try again in {wait // 60 + 1} minutes",
                retry_after=wait,
            )
        window.append(now)
        if len(windows) > 10_000:  # bounded: forget the windows that have emptied
            for name in [n for n, w in windows.items() if not w or now - w[-1] > WINDOW]:
                del windows[name]
