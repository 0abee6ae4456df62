"""The gateway hop: a dashboard reached directly (its runner) vs through Podium, in one run.

Starts the real stack of the tests (JupyterHub, configurable-http-proxy,
Podium, a local runner serving ``tests/apps/custom/bench.py``) and measures,
alternating the paths:

- throughput of a small page at 64 connections (wrk), direct to the runner,
  through the gateway alone, and through the whole chain (proxy + gateway);
- latency of the same page one request at a time, p50/p99;
- a 10 MB download: time, and the gateway's resident memory before and after
  (streaming: it must not grow by the body);
- WebSocket round trips, p50/p99;
- hub API calls made by the gateway during the load (the access check must
  cost none per request).

Goals (issue 3): >= 70 % of direct throughput on small pages at 64
connections; a 10 MB body streamed, not held; no hub call per request.

    python bench/proxy.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import page_latency, percentile, wrk, ws_round_trips  # noqa: E402
from tests.hubstack import HubStack, hub_stack  # noqa: E402

DASHBOARD = "/dashboards/alice/bench/"

COMMAND = ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"]
PODIUM_EXTRA = """
c.Podium.frameworks = ["streamlit", "custom"]
c.Podium.token_cache_seconds = 600
c.Podium.user_refresh_interval = 300
"""
HUB_EXTRA = 'c.JupyterHub.log_level = "INFO"\n'


@dataclass
class Path_:
    name: str
    base: str  # http://host:port, the dashboard lives at base + /dashboards/alice/bench/
    headers: dict[str, str]
    page: str = ""  # the small page, under the dashboard

    @property
    def url(self) -> str:
        return self.base + DASHBOARD + self.page

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + DASHBOARD + "ws"


async def download(path: Path_) -> float:
    t0 = time.perf_counter()
    size = 0
    async with (
        aiohttp.ClientSession(headers=path.headers) as s,
        s.get(path.base + DASHBOARD + "big") as r,
    ):
        async for chunk in r.content.iter_any():
            size += len(chunk)
    assert size == 160 * 65536, size
    return time.perf_counter() - t0


async def setup(stack: HubStack, app: str) -> list[Path_]:
    home = stack.dir / "home" / "alice" / "bench"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "apps" / "custom" / "bench.py", home / "bench.py")
    shutil.copy(ROOT / "tests" / "apps" / "streamlit" / "app.py", home / "app.py")
    token = await stack.token_for("alice")
    auth = {"Authorization": f"token {token}"}
    source = {"type": "storage", "path": "bench"}
    body: dict[str, object] = {
        "name": "bench",
        "framework": "custom",
        "command": COMMAND,
        "source": source,
    }
    if app == "streamlit":
        body = {"name": "bench", "framework": "streamlit", "entry": "app.py", "source": source}
    async with aiohttp.ClientSession(headers=auth) as s:
        async with s.post(stack.podium + "_/api/dashboards", json=body) as r:
            assert r.status == 201, await r.text()
        async with s.post(stack.podium + "_/api/dashboards/alice/bench/start") as r:
            assert r.status == 202, await r.text()
        for _ in range(240):
            async with s.get(stack.podium + "_/api/dashboards/alice/bench") as r:
                if (await r.json())["status"] == "ready":
                    break
            await asyncio.sleep(0.5)
    spec = json.loads((stack.dir / "runners" / "alice" / "bench" / "spec.json").read_text())
    page = "_stcore/health" if app == "streamlit" else ""
    return [
        Path_(
            "direct to the runner",
            f"http://127.0.0.1:{spec['port']}",
            {"X-Podium-Credential": spec["credential"]},
            page,
        ),
        Path_("through the gateway", f"http://127.0.0.1:{stack.podium_port}", auth, page),
        Path_("proxy + gateway", stack.base, auth, page),
    ]


def hub_user_calls(stack: HubStack) -> int:
    return stack.log("jupyterhub").count("GET /hub/api/user")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument(
        "--app",
        choices=["custom", "streamlit"],
        default="custom",
        help="custom: a bare aiohttp app (the hardest case); streamlit: a real framework",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/proxy.py needs wrk (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="podium-bench-"))
    try:
        async with hub_stack(tmp, podium_extra=PODIUM_EXTRA, hub_extra=HUB_EXTRA) as stack:
            paths = await setup(stack, args.app)
            gateway = psutil.Process(stack.processes["podium"].pid)
            for path in paths:  # warm up: connections, caches, the token lookup
                await page_latency(path.url, path.headers, 20)
            rps: dict[str, list[float]] = {p.name: [] for p in paths}
            lat: dict[str, list[float]] = {p.name: [] for p in paths}
            calls_before = hub_user_calls(stack)
            for _ in range(args.rounds):
                for path in paths:
                    rps[path.name].append(
                        await asyncio.to_thread(
                            wrk, path.url, path.headers, args.seconds, args.connections
                        )
                    )
                    lat[path.name] += await page_latency(path.url, path.headers, args.count)
            requests = sum(
                statistics.median(v) * args.seconds * args.rounds for v in list(rps.values())[1:]
            )
            calls = hub_user_calls(stack) - calls_before
            rss_before = gateway.memory_info().rss
            downloads: dict[str, float] = {}
            ws: dict[str, list[float]] = {}
            if args.app == "custom":
                downloads = {
                    p.name: statistics.median([await download(p) for _ in range(3)]) for p in paths
                }
                ws = {
                    p.name: await ws_round_trips(p.ws_url, p.headers, args.count) for p in paths[:2]
                }
            rss_after = gateway.memory_info().rss
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    direct = paths[0].name
    print(
        f"gateway benchmark ({args.app} app): small page @{args.connections} connections (wrk), {args.rounds} rounds"
    )
    print(f"{'path':<24}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'10 MB s':>9}")
    for p in paths:
        r = statistics.median(rps[p.name])
        ratio = r / statistics.median(rps[direct])
        print(
            f"{p.name:<24}{r:>10.0f}{ratio:>8.1%}{percentile(lat[p.name], 0.5):>9.3f}"
            f"{percentile(lat[p.name], 0.99):>9.3f}{downloads.get(p.name, float('nan')):>9.3f}"
        )
    for name, times in ws.items():
        print(
            f"websocket round trip, {name}: p50 {percentile(times, 0.5):.3f} ms, p99 {percentile(times, 0.99):.3f} ms"
        )
    if downloads:
        growth = (rss_after - rss_before) / 2**20
        print(
            f"gateway memory across 3 x 3 downloads of 10 MB: {growth:+.1f} MiB (streamed: well under 10 MiB)"
        )
    print(f"hub user lookups during ~{requests:,.0f} proxied requests: {calls}")
    gateway_ratio = statistics.median(rps[paths[1].name]) / statistics.median(rps[direct])
    print(
        f"goal: gateway >= 70% of direct throughput -> {'met' if gateway_ratio >= 0.7 else 'NOT met'} ({gateway_ratio:.1%})"
    )


if __name__ == "__main__":
    asyncio.run(main())
