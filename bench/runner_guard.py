"""What the runner's guard costs: direct to the framework vs through the guard, in one run.

Starts one real ``podium-runner`` (by default the small aiohttp app of the
tests, the hardest case for the guard since the app itself is fast; or a
Streamlit app with ``--framework streamlit``), finds the framework's internal
port in the runner's log, and measures both paths alternately:

- throughput of a small page at N concurrent connections (wrk when installed,
  else an aiohttp client), requests/s;
- latency of the same page, one request at a time on a kept-alive connection, p50/p99;
- WebSocket message round trips, one at a time, p50/p99 (custom app only).

It prints each figure for both paths and the ratios. Goals (issue 2): the
guard keeps >= 90 % of direct throughput and adds < 1 ms at p50. Bounded:
every phase has a fixed duration or count and loopback targets only.

    python bench/runner_guard.py [--framework custom|streamlit] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import page_latency, percentile, wrk, ws_round_trips  # noqa: E402
from tests.support.harness import PREFIX, app_spec  # noqa: E402


@dataclass
class Target:
    name: str
    base: str  # http://127.0.0.1:port
    headers: dict[str, str]
    page: str  # path of the small page, under PREFIX
    ws: str | None  # WebSocket path, under PREFIX

    @property
    def url(self) -> str:
        return self.base + PREFIX + self.page

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + PREFIX + (self.ws or "")


async def start(
    framework: str, workdir: Path
) -> tuple[asyncio.subprocess.Process, dict[str, Any], int]:
    if framework == "custom":
        command = ["{python}", "serve.py", "--port", "{port}", "--prefix", "{prefix}"]
        spec = app_spec("custom", "", custom={"command": command})
    else:
        spec = app_spec(framework, "app.py")
    (workdir / "spec.json").write_text(json.dumps(spec))
    log = (workdir / "runner.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runners",
        "--spec",
        str(workdir / "spec.json"),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = (workdir / "runner.log").read_text(errors="replace")
        if "ready after" in text:
            internal = re.search(r"on 127\.0\.0\.1:(\d+)", text)
            assert internal
            return proc, spec, int(internal.group(1))
        if proc.returncode is not None:
            raise SystemExit(f"runner failed:\n{text}")
        await asyncio.sleep(0.2)
    raise SystemExit("runner not ready in 120 s")


async def client_throughput(target: Target, seconds: float, connections: int) -> float:
    url = target.base + PREFIX + target.page
    count = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=target.headers) as session:

        async def worker() -> None:
            nonlocal count
            while time.monotonic() < deadline:
                async with session.get(url) as r:
                    await r.read()
                    assert r.status == 200
                count += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return count / seconds


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--framework", choices=["custom", "streamlit"], default="custom")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each throughput phase"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per path")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--count", type=int, default=2000, help="sequential requests/messages per round"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="podium-bench-"))
    proc, spec, internal = await start(args.framework, workdir)
    page, ws = ("", "ws") if args.framework == "custom" else ("_stcore/health", None)
    direct = Target("direct", f"http://127.0.0.1:{internal}", {}, page, ws)
    guarded = Target(
        "guard",
        f"http://127.0.0.1:{spec['port']}",
        {"X-Podium-Credential": str(spec["credential"])},
        page,
        ws,
    )
    use_wrk = shutil.which("wrk") is not None
    results: dict[str, dict[str, list[float]]] = {
        t.name: {"rps": [], "lat": [], "ws": []} for t in (direct, guarded)
    }
    try:
        for _ in range(args.rounds):
            for target in (direct, guarded):
                if use_wrk:
                    load = await asyncio.to_thread(
                        wrk, target.url, target.headers, args.seconds, args.connections
                    )
                    rps = load.rps
                else:
                    rps = await client_throughput(target, args.seconds, args.connections)
                results[target.name]["rps"].append(rps)
                results[target.name]["lat"] += await page_latency(
                    target.url, target.headers, args.count
                )
                if target.ws:
                    results[target.name]["ws"] += await ws_round_trips(
                        target.ws_url, target.headers, args.count
                    )
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)

    d, g = results["direct"], results["guard"]
    tool = "wrk" if use_wrk else "aiohttp client"
    print(f"runner guard benchmark: {args.framework} app, {os.cpu_count()} CPUs, load by {tool}")
    print(f"{'measure':<34}{'direct':>12}{'guard':>12}{'ratio/delta':>14}")
    rd, rg = statistics.median(d["rps"]), statistics.median(g["rps"])
    print(
        f"{f'small page req/s @{args.connections} conns':<34}{rd:>12.0f}{rg:>12.0f}{rg / rd:>13.1%}"
    )
    for label, key in (("small page latency", "lat"), ("websocket round trip", "ws")):
        if not d[key]:
            continue
        for q in (0.5, 0.99):
            a, b = percentile(d[key], q), percentile(g[key], q)
            print(f"{f'{label} p{int(q * 100)} (ms)':<34}{a:>12.3f}{b:>12.3f}{b - a:>+13.3f}")
    print(f"goal: guard >= 90% of direct throughput -> {'met' if rg / rd >= 0.9 else 'NOT met'}")
    added = percentile(g["lat"], 0.5) - percentile(d["lat"], 0.5)
    print(
        f"goal: guard adds < 1 ms at p50 -> {'met' if added < 1 else 'NOT met'} ({added:+.3f} ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
