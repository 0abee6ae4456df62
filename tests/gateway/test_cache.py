"""The gateway's one cache (gateway/cache.py): fresh for a time, bounded, one fetch per key
at a time, the last answer while the source is away."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache import Cache
from gateway.errors import Unavailable

pytestmark = pytest.mark.unit


async def test_fresh_then_fetched_again_and_one_fetch_at_a_time() -> None:
    calls: list[str] = []

    async def fetch() -> str:
        calls.append("x")
        await asyncio.sleep(0.01)
        return f"answer {len(calls)}"

    cache: Cache[str, str] = Cache(0.05, 10)
    assert cache.fresh("k") is None
    answers = await asyncio.gather(*(cache.get("k", fetch) for _ in range(20)))
    assert set(answers) == {"answer 1"} and len(calls) == 1  # twenty callers, one fetch
    assert cache.fresh("k") == ("answer 1",)
    await asyncio.sleep(0.06)
    assert cache.fresh("k") is None
    assert await cache.get("k", fetch) == "answer 2"


async def test_bounded_oldest_first() -> None:
    cache: Cache[int, int] = Cache(60, 3)
    for key in range(5):
        cache.put(key, key)
    assert len(cache) == 3 and cache.fresh(0) is None and cache.fresh(4) == (4,)


async def test_the_last_answer_outlives_an_unavailable_source() -> None:
    said: list[str] = []
    cache: Cache[str, str | None] = Cache(
        0, 10, stale_on=(Unavailable,), on_stale=lambda k, v: said.append(f"{k}={v}")
    )

    async def down() -> str | None:
        raise Unavailable("the hub is restarting")

    with pytest.raises(Unavailable):
        await cache.get("alice", down)  # nothing to fall back on
    cache.put("alice", "model")
    assert await cache.get("alice", down) == "model"
    assert said == ["alice=model"]
    cache.put("bob", None)  # "no such user" is no answer to keep serving
    with pytest.raises(Unavailable):
        await cache.get("bob", down)

    async def broken() -> str | None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        await cache.get("alice", broken)


async def test_a_key_forgotten_while_fetched_keeps_nothing_of_that_fetch() -> None:
    release = asyncio.Event()

    async def old_answer() -> str:
        await release.wait()
        return "before the change"

    cache: Cache[str, str] = Cache(60, 10)
    reading = asyncio.ensure_future(cache.get("k", old_answer))
    await asyncio.sleep(0)
    cache.forget("k")  # changed meanwhile
    release.set()
    assert await reading == "before the change"  # its caller gets what it asked for
    assert cache.fresh("k") is None  # but nobody after it

    async def new_answer() -> str:
        return "after the change"

    assert await cache.get("k", new_answer) == "after the change"


async def test_recent_answers_at_once_and_refreshes_once_in_the_background() -> None:
    calls: list[int] = []

    async def fetch() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        return len(calls)

    cache: Cache[str, int] = Cache(0.05, 10)
    assert cache.recent("k", fetch) is None  # nothing yet: the caller reads itself
    cache.put("k", 0)
    assert cache.recent("k", fetch) == (0,) and calls == []  # fresh: no fetch
    await asyncio.sleep(0.06)  # past its time, within the second lifetime
    assert [cache.recent("k", fetch) for _ in range(10)] == [(0,)] * 10
    await asyncio.sleep(0.02)
    assert calls == [1] and cache.fresh("k") == (1,)  # one refresh for ten callers
    await asyncio.sleep(0.11)  # two lifetimes old: too old to give
    assert cache.recent("k", fetch) is None
