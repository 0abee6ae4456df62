"""Measurements the benchmarks share: wrk throughput, sequential latency, WebSocket round trips."""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

import aiohttp


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Load:
    """What wrk measured: requests per second and latency percentiles (ms) under load."""

    rps: float
    p50: float
    p99: float


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    headers: dict[str, str],
    seconds: float,
    connections: int,
    script: str | None = None,
) -> Load:
    """Load ``url`` with wrk over ``connections`` kept-alive connections; any non-2xx answer
    ends the benchmark (a proxy that fails fast must not look fast)."""
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:.0f}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    p50 = re.search(r"^\s+50%\s+(\S+)", out.stdout, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out.stdout, re.M)
    if not (found and p50 and p99) or "Non-2xx" in out.stdout:
        raise SystemExit(f"wrk failed against {url}:\n{out.stdout}{out.stderr}")
    return Load(float(found.group(1)), _ms(p50.group(1)), _ms(p99.group(1)))


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


def table(title: str, head: list[str], rows: list[list[str]]) -> None:
    """A plain-text table: the first column left-aligned, figures right-aligned."""
    print(f"\n{title}")
    widths = [max(len(str(c)) for c in column) for column in zip(head, *rows, strict=True)]
    for row in (head, *rows):
        cells = zip(row, widths, strict=True)
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells)))
