"""The gateway's read cache of dashboards: the front door asks on every request.

An entry lives ``seconds``; one just past its time is still answered while one store read
refreshes it (otherwise every request in flight would read the store at once each time it
expires); concurrent lookups share one read; a change made through this gateway drops the
entry at once and wins over a read that was already under way; while the database is down,
what it last said is answered (nobody can change a dashboard meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from gateway.domain.dashboards import Dashboard, Key
from gateway.domain.runtime import Runtime
from gateway.domain.store import Store
from gateway.errors import Unavailable


class ReadCache:
    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self.cache_seconds = seconds
        self._cache: dict[Key, tuple[Dashboard, Runtime | None, float]] = {}
        self._reading: dict[Key, asyncio.Future[tuple[Dashboard, Runtime | None]]] = {}
        self._generation: dict[Key, int] = {}
        self._changed: dict[Key, asyncio.Event] = {}

    async def lookup(self, owner: str, name: str) -> tuple[Dashboard, Runtime | None]:
        """The dashboard and its runner, cached for a moment: the proxy asks on every request."""
        key = (owner, name)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[2] < self.cache_seconds:
            return cached[0], cached[1]
        try:
            return await asyncio.shield(self._refresh(key))
        except Unavailable:
            if cached is None:
                raise
            # The database is down: what it last said, rather than refusing every viewer
            # (nobody can change a dashboard meanwhile, so it is still the truth).
            return cached[0], cached[1]

    def cached(self, owner: str, name: str) -> tuple[Dashboard, Runtime | None] | None:
        """What :meth:`lookup` would answer without reading the store; ``None`` if stale.

        An entry just past its time is still answered while one read refreshes it in the
        background: otherwise every request in flight would read the store at once each
        time the entry expires (and wait in line for it). Changes made through this
        gateway drop the entry at once (:meth:`forget`)."""
        key = (owner, name)
        cached = self._cache.get(key)
        if cached is None:
            return None
        age = time.monotonic() - cached[2]
        if age >= self.cache_seconds:
            if age >= 2 * self.cache_seconds:
                return None
            self._refresh(key)
        return cached[0], cached[1]

    def _refresh(self, key: Key) -> asyncio.Future[tuple[Dashboard, Runtime | None]]:
        """One read of the store per dashboard at a time; concurrent lookups share it."""
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read(key, self._generation.get(key, 0)))
            self._reading[key] = pending
            pending.add_done_callback(lambda done: self._read_done(key, done))
        return pending

    def _read_done(self, key: Key, done: asyncio.Future[tuple[Dashboard, Runtime | None]]) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]
        if not done.cancelled():
            done.exception()  # a background refresh's error (a deleted dashboard) is not lost

    async def _read(self, key: Key, generation: int) -> tuple[Dashboard, Runtime | None]:
        dashboard = await self.store.get(*key)
        runtime = (await self.store.runtime(*key)).runtime
        if self._generation.get(key, 0) == generation:  # not forgotten meanwhile
            self._cache[key] = (dashboard, runtime, time.monotonic())
        return dashboard, runtime

    def forget(self, key: Key) -> None:
        self._cache.pop(key, None)
        self._reading.pop(key, None)
        self._generation[key] = self._generation.get(key, 0) + 1
        self._changed.setdefault(key, asyncio.Event()).set()
        self._changed[key] = asyncio.Event()

    async def changed(self, key: Key, within: float) -> None:
        """Return when ``key`` is forgotten (changed through this gateway), or after ``within``."""
        event = self._changed.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)
