"""How many of something are open right now, per key: viewer WebSockets per dashboard
(gateway.domain.activity) and per viewer (gateway.front.limits). Keys at zero are forgotten."""

from __future__ import annotations

from collections.abc import Hashable


class Tally:
    def __init__(self) -> None:
        self._counts: dict[Hashable, int] = {}

    def opened(self, key: Hashable) -> None:
        self._counts[key] = self._counts.get(key, 0) + 1

    def closed(self, key: Hashable) -> None:
        left = self._counts.get(key, 1) - 1
        if left > 0:
            self._counts[key] = left
        else:
            self._counts.pop(key, None)

    def __getitem__(self, key: Hashable) -> int:
        return self._counts.get(key, 0)
