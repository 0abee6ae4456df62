"""Viewer activity, counted in memory by the front door and written to the store in batches:
when each dashboard was last used, its open WebSockets (a page left open is a dashboard in
use), and its page views per day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.domain.dashboards import Dashboard, Key
from gateway.domain.runtime import Runtime
from gateway.domain.store import Store
from gateway.domain.tally import Tally


class Activity:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._seen: dict[Key, datetime] = {}
        self._views: dict[tuple[Key, date], int] = {}
        self._open_sockets = Tally()

    def touch(self, key: Key) -> None:
        self._seen[key] = datetime.now(UTC)

    def socket_opened(self, key: Key) -> None:
        """An open viewer WebSocket is a viewer with the page open: the dashboard is in use."""
        self._open_sockets.opened(key)
        self.touch(key)

    def socket_closed(self, key: Key) -> None:
        self._open_sockets.closed(key)
        self.touch(key)

    def in_use(self, key: Key) -> bool:
        """A viewer has it open right now (a WebSocket through this gateway)."""
        return self._open_sockets[key] > 0

    def viewed(self, key: Key) -> None:
        """A viewer opened the dashboard's page (counted per day, written with the activity)."""
        counted = (key, datetime.now(UTC).date())
        self._views[counted] = self._views.get(counted, 0) + 1

    async def last(self, dashboard: Dashboard, runtime: Runtime) -> datetime:
        """When the dashboard was last used: seen here, else recorded, else its start."""
        seen = self._seen.get(dashboard.key)
        if seen is not None:
            return seen
        recorded = await self.store.last_activity(*dashboard.key)
        started = datetime.fromtimestamp(runtime.started, UTC)
        return max(recorded, started) if recorded else started

    async def flush(self) -> None:
        seen, self._seen = self._seen, {}
        counted, self._views = self._views, {}
        await self.store.record_activity([(o, n, when) for (o, n), when in seen.items()])
        await self.store.record_views([(o, n, day, c) for ((o, n), day), c in counted.items()])
