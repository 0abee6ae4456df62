"""Streaming: 10 MB downloads through each path and the gateway's memory across them; and
the hub calls the gateway makes while proxying (the access check must cost none per request)."""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp

from bench.measure import table, wrk
from bench.paths import Setup

DOWNLOADS = 3
SIZE = 160 * 65536  # what the app's /big sends


async def download(url: str, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    size = 0
    async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as r:
        async for chunk in r.content.iter_any():
            size += len(chunk)
    assert size == SIZE, size
    return time.perf_counter() - began


def hub_user_lookups(s: Setup) -> int:
    """Token and user lookups the hub has logged so far (it logs at INFO)."""
    return s.stack.log("jupyterhub").count("GET /hub/api/user")


async def stream(s: Setup, seconds: float) -> None:
    gateway = s.stack.gateway()
    before = gateway.memory_info().rss
    rows = []
    for path in s.ws_paths:  # direct, Podium, the peer
        took = statistics.median(
            [await download(path.base + "big", path.headers) for _ in range(DOWNLOADS)]
        )
        rows.append([path.name, f"{took * 1000:.0f}", f"{SIZE / took / 2**20:.0f}"])
    growth = (gateway.memory_info().rss - before) / 2**20
    table(f"5. streaming a 10 MB response (median of {DOWNLOADS})", ["path", "ms", "MiB/s"], rows)
    print(f"   gateway memory across the downloads: {growth:+.1f} MiB (streamed, not held)")
    podium = s.targets["Podium (CHP+gateway)"]
    calls = hub_user_lookups(s)
    load = await asyncio.to_thread(wrk, podium.base, podium.headers, seconds, 64)
    calls = hub_user_lookups(s) - calls
    print(
        f"   hub lookups by the gateway during {load.rps * seconds:,.0f} proxied requests: {calls}"
    )
