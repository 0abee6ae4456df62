"""The gateway's read cache of dashboards: the front door asks on every request.

An entry lives ``seconds``; one just past its time is still answered while one store read
refreshes it (otherwise every request in flight would read the store at once each time it
expires); concurrent lookups share one read; a change made through this gateway drops the
entry at once and wins over a read that was already under way; while the database is down,
what it last said is answered (nobody can change a dashboard meanwhile). All of that is
:class:`gateway.cache.Cache`; this adds the store read and a signal for who waits on a
change.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.cache import Cache
from gateway.domain.dashboards import Dashboard, Key
from gateway.domain.runtime import Runtime
from gateway.domain.store import Store
from gateway.errors import Unavailable

Read = tuple[Dashboard, Runtime | None]
SIZE = 100_000  # dashboards kept at once; past that the oldest are read again


class ReadCache:
    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self._cache: Cache[Key, Read] = Cache(seconds, SIZE, stale_on=(Unavailable,))
        self._changed: dict[Key, asyncio.Event] = {}

    async def lookup(self, owner: str, name: str) -> Read:
        """The dashboard and its runner, cached for a moment: the proxy asks on every request."""
        key = (owner, name)
        return await self._cache.get(key, lambda: self._read(key))

    def cached(self, owner: str, name: str) -> Read | None:
        """What :meth:`lookup` would answer without reading the store; ``None`` if stale
        (an entry just past its time is still answered while one read refreshes it)."""
        key = (owner, name)
        found = self._cache.recent(key, lambda: self._read(key))
        return None if found is None else found[0]

    async def _read(self, key: Key) -> Read:
        dashboard = await self.store.get(*key)
        return dashboard, (await self.store.runtime(*key)).runtime

    def forget(self, key: Key) -> None:
        self._cache.forget(key)
        self._changed.pop(key, asyncio.Event()).set()

    async def changed(self, key: Key, within: float) -> None:
        """Return when ``key`` is forgotten (changed through this gateway), or after ``within``."""
        event = self._changed.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)
