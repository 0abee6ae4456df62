"""Hub answers are cached, and fetched once when many requests need them at the same time."""

from __future__ import annotations

import asyncio

import pytest

from gateway.domain.access import User
from gateway.hub.auth import _cached

pytestmark = pytest.mark.unit


async def test_requests_in_flight_share_one_hub_call() -> None:
    calls = 0

    async def fetch() -> User | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return User("alice")

    cache: dict[str, tuple[User | None, float]] = {}
    found = await asyncio.gather(*(_cached(cache, "alice", 60, fetch) for _ in range(64)))
    assert calls == 1 and {u.name for u in found if u} == {"alice"}
    await _cached(cache, "alice", 60, fetch)
    assert calls == 1, "then served from the cache"
    await _cached(cache, "alice", 0, fetch)
    assert calls == 2, "and asked again once it expired"
