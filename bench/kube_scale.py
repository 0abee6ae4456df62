"""Podium on Kubernetes at the scale of a big hub: 1,000 dashboards, 200 running pods.

Starts the test stack (JupyterHub, configurable-http-proxy, the gateway with
``c.Podium.launcher = "kubernetes"``) against the simulated cluster
(tests/kubesim), whose pods run a stand-in runner (tests/kubesim/pause.py, a
few MB each) so that 200 of them fit on this machine. Registers the
dashboards, starts the running ones through the API, then measures at steady
state: the gateway's memory and CPU, the latency of a status lookup, of the
gallery and of a proxied request, and the Kubernetes API calls per minute
(a list + watch, nothing per dashboard).

    python bench/kube_scale.py [--dashboards 1000] [--running 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import percentile  # noqa: E402
from tests.kubesim import simulated_cluster  # noqa: E402
from tests.kubesim.kubelet import Image, default_images  # noqa: E402
from tests.support.hubstack import NO_QUOTAS, hub_stack  # noqa: E402

CONFIG = """
c.Podium.launcher = "kubernetes"
c.KubeLauncher.kubeconfig = {kubeconfig!r}
c.KubeLauncher.namespace = {namespace!r}
c.KubeLauncher.image = "podium/runner:scale"
c.KubeLauncher.storage = "per-user"
c.KubeLauncher.ready_timeout = 300
c.Podium.check_interval = 5
c.Podium.token_cache_seconds = 600
c.Podium.user_refresh_interval = 300
c.Podium.idle_timeout_max = 86400
"""


async def timed(session: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        async with session.get(url) as r:
            await r.read()
            assert r.status == 200, (url, r.status)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def row(name: str, times: list[float]) -> str:
    return (
        f"{name:<34} p50 {statistics.median(times):8.2f} ms   p99 {percentile(times, 0.99):8.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dashboards", type=int, default=1000)
    parser.add_argument("--running", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="podium-kube-scale-"))
    try:
        async with simulated_cluster(tmp) as c:
            assert c.kubelet is not None and c.api is not None
            base = default_images()["podium/runner:test"]
            c.kubelet.images["podium/runner:scale"] = Image(
                base.env, [sys.executable, "-S", str(ROOT / "tests/kubesim/pause.py")],
                covers=base.covers,
            )  # fmt: skip
            c.kubelet.bind_claim(c.namespace, "claim-alice")
            extra = CONFIG.format(kubeconfig=str(c.kubeconfig), namespace=c.namespace) + NO_QUOTAS
            (tmp / "hub").mkdir()
            async with hub_stack(tmp / "hub", podium_extra=extra) as stack:
                token = await stack.token_for("alice")
                headers = {"Authorization": f"token {token}"}
                api = stack.podium + "_/api/dashboards"
                t0 = time.monotonic()
                async with aiohttp.ClientSession(headers=headers) as s:
                    for i in range(args.dashboards):
                        body = {"name": f"d{i:04d}", "framework": "streamlit", "entry": "app.py",
                                "source": {"type": "storage", "path": "apps"},
                                "access": {"mode": "authenticated"}, "idle_timeout": 86400}  # fmt: skip
                        async with s.post(api, json=body) as r:
                            assert r.status == 201, await r.text()
                    registered = time.monotonic() - t0
                    t0 = time.monotonic()
                    for i in range(args.running):
                        async with s.post(f"{api}/alice/d{i:04d}/start") as r:
                            assert r.status == 202, await r.text()
                    while True:
                        ready = 0
                        for offset in range(0, args.dashboards, 100):
                            page = {"limit": "100", "offset": str(offset)}
                            async with s.get(api, params=page) as r:
                                items = (await r.json())["items"]
                            ready += sum(d["status"] == "ready" for d in items)
                        if ready >= args.running:
                            break
                        assert time.monotonic() - t0 < 900, f"only {ready} ready"
                        print(
                            f"  {ready}/{args.running} ready after {time.monotonic() - t0:.0f} s",
                            flush=True,
                        )
                        await asyncio.sleep(2)
                    started = time.monotonic() - t0
                    await asyncio.sleep(5)  # settle
                    gateway = stack.gateway()
                    calls0, cpu0 = sum(c.api.calls.values()), gateway.cpu_times()
                    t0 = time.monotonic()
                    lookups = await timed(s, f"{api}/alice/d0007", 200)
                    gallery_api = await timed(s, api + "?limit=100", 50)
                    gallery = await timed(s, stack.podium, 20)
                    proxied = await timed(s, stack.podium + "alice/d0007/", 200)
                    await asyncio.sleep(max(0.0, args.seconds - (time.monotonic() - t0)))
                    window = time.monotonic() - t0
                    calls = sum(c.api.calls.values()) - calls0
                    cpu1 = gateway.cpu_times()
                    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / window
                    rss = gateway.memory_info().rss / 2**20
        print(f"\nPodium on Kubernetes (simulated cluster): {args.dashboards} dashboards, "
              f"{args.running} running pods")  # fmt: skip
        print(f"registering {args.dashboards} dashboards: {registered:.1f} s; "
              f"starting {args.running} pods until all ready: {started:.1f} s")  # fmt: skip
        print(row("status lookup (GET one dashboard)", lookups))
        print(row("list API (100 per page)", gallery_api))
        print(row(f"gallery page ({args.dashboards} cards)", gallery))
        print(row("proxied request to a pod", proxied))
        print(f"gateway: {rss:.0f} MiB resident, {cpu * 100:.1f} % of a core at steady state "
              f"(includes the requests above)")  # fmt: skip
        print(f"Kubernetes API calls at steady state: {calls / window * 60:.1f} per minute "
              f"({calls} in {window:.0f} s); all calls since start by kind: {dict(c.api.calls)}")  # fmt: skip
    except BaseException:
        print(f"failed: the stack's logs are in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    # A SIGTERM (a timeout) unwinds like Ctrl+C: the stack and every pod are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    asyncio.run(main())
