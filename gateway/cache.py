"""The gateway's one cache (hub answers, the store's dashboards, signed values): fresh for
``seconds``, at most ``size`` entries (the oldest go first), one fetch per key at a time
(the requests in flight when an entry expires share it), a forgotten key's fetch under way
never stored (a change made meanwhile wins), the last answer while the source is briefly
away (``stale_on``), and for the front door's per-request path answers without an await:
:meth:`Cache.fresh`, and :meth:`Cache.recent`, which also serves an answer one lifetime
past its time while one fetch refreshes it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Cache(Generic[K, V]):
    def __init__(
        self,
        seconds: float,
        size: int,
        *,
        stale_on: tuple[type[BaseException], ...] = (),
        on_stale: Callable[[K, V], None] | None = None,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.stale_on = stale_on  # errors of the source that the last answer outlives
        self.on_stale = on_stale
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._flights: dict[K, asyncio.Future[V]] = {}

    def fresh(self, key: K) -> tuple[V] | None:
        """The answer for ``key`` if it is fresh (a 1-tuple: the answer may be None), with
        no await: for the front door's per-request path."""
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[1] >= self.seconds:
            return None
        return (entry[0],)

    def recent(self, key: K, fetch: Callable[[], Awaitable[V]]) -> tuple[V] | None:
        """Like :meth:`fresh`, but an answer up to one more lifetime old is still given
        while one fetch refreshes it in the background: otherwise every request in flight
        would wait for the source each time the entry expires."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = time.monotonic() - entry[1]
        if age >= self.seconds:
            if age >= 2 * self.seconds:
                return None
            self._flight(key, fetch)
        return (entry[0],)

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """The fresh answer, or ``fetch``'s (one fetch per key at a time); the last one
        when the source fails with one of ``stale_on`` (not a None: that is no answer)."""
        found = self.fresh(key)
        if found is not None:
            return found[0]
        try:
            return await asyncio.shield(self._flight(key, fetch))
        except self.stale_on:
            stale = self._entries.get(key)
            if stale is None or stale[0] is None:
                raise
            if self.on_stale is not None:
                self.on_stale(key, stale[0])
            return stale[0]

    def _flight(self, key: K, fetch: Callable[[], Awaitable[V]]) -> asyncio.Future[V]:
        """The fetch under way for ``key``, or a new one; it stores its answer unless the
        key was forgotten meanwhile."""
        flight = self._flights.get(key)
        if flight is not None:
            return flight

        async def fetch_and_keep() -> V:
            value = await fetch()
            if self._flights.get(key) is flight:  # not forgotten meanwhile
                self.put(key, value)
            return value

        flight = asyncio.ensure_future(fetch_and_keep())
        self._flights[key] = flight
        flight.add_done_callback(lambda done: self._landed(key, done))
        return flight

    def _landed(self, key: K, flight: asyncio.Future[V]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # a background refresh's error is no "never retrieved"

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (value, time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        """Drop the answer, and the fetch under way: what it brings is not kept."""
        self._entries.pop(key, None)
        self._flights.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
