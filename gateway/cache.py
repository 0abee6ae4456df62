"""One cache for the gateway's hub and store answers: fresh for ``seconds``, at most
``size`` entries (the oldest go first), one fetch per key at a time (the requests in
flight when an entry expires share it), and — where the source may be briefly away —
the last answer while it is.
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

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """The fresh answer, or ``fetch``'s (one fetch per key at a time); the last one
        when the source fails with one of ``stale_on`` (not a None: that is no answer)."""
        found = self.fresh(key)
        if found is not None:
            return found[0]
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(fetch())
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        try:
            value = await asyncio.shield(flight)
        except self.stale_on:
            stale = self._entries.get(key)
            if stale is None or stale[0] is None:
                raise
            if self.on_stale is not None:
                self.on_stale(key, stale[0])
            return stale[0]
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (value, time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
