"""A start's progress as the progress page follows it: each change of status or message,
read from the read cache (woken at once by changes made through this gateway)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from gateway.domain.dashboards import Dashboard, Status
from gateway.domain.readcache import ReadCache


@dataclass(frozen=True)
class Progress:
    status: Status
    message: str
    elapsed: float


async def progress(reads: ReadCache, dashboard: Dashboard) -> AsyncIterator[Progress]:
    """Status changes until the dashboard is ready, failed or stopped (the progress page)."""
    began = time.monotonic()
    last = None
    while True:
        current, _ = await reads.lookup(*dashboard.key)
        now = (current.status, current.message)
        if now != last:
            last = now
            yield Progress(current.status, current.message, round(time.monotonic() - began, 1))
        if current.status in ("ready", "failed", "stopped"):
            return
        await reads.changed(dashboard.key, 1.0)
