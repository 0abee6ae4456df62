"""Measurements the benchmarks share: wrk throughput, sequential latency, WebSocket round trips."""

from __future__ import annotations

import re
import subprocess
import time

import aiohttp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wrk(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    """Requests per second that wrk gets from ``url``; any non-2xx answer ends the benchmark."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not found or "Non-2xx" in out.stdout:
        raise SystemExit(f"wrk failed against {url}:\n{out.stdout}{out.stderr}")
    return float(found.group(1))


async def page_latency(url: str, headers: dict[str, str], count: int) -> list[float]:
    """Milliseconds per request, one at a time on one kept-alive connection."""
    times = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(count):
            t0 = time.perf_counter()
            async with session.get(url) as r:
                await r.read()
                assert r.status == 200, r.status
            times.append((time.perf_counter() - t0) * 1000)
    return times


async def ws_round_trips(url: str, headers: dict[str, str], count: int) -> list[float]:
    """Milliseconds per echoed WebSocket message, one at a time."""
    times = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
        for i in range(count):
            t0 = time.perf_counter()
            await ws.send_str(str(i))
            await ws.receive_str()
            times.append((time.perf_counter() - t0) * 1000)
    return times
