"""Podium against its peers, measured in one run on this machine: ``python -m bench``.

Starts the tests' real stack (JupyterHub, configurable-http-proxy, Podium, local runners)
plus the peer path of ContainDS Dashboards and jhub-apps (configurable-http-proxy ->
jhsingle-native-proxy -> the framework), then measures, binding loopback only:

1. proxy: a 2 KB page and a 1 MB response at 1/16/64 kept-alive connections (wrk):
   direct to the framework, Podium's full path (through configurable-http-proxy, or
   through an ingress controller as the chart's Ingress does), the peer path; and the gateway hop alone
   against a configurable-http-proxy hop alone, both in front of the same runner;
2. websocket: echoed messages/s and round trips for 64 B and 64 KB messages;
3. wake-up: first request for a stopped Streamlit / Voilà dashboard to the first byte of
   the app's page, against starting the framework by hand;
4. scale: 500 registered dashboards, 50 running, 200 viewers: gateway RSS and p99;
5. streaming: 10 MB downloads, the gateway's memory across them, and its hub calls;
6. layers: wake-up with a cached requirements.txt layer against none (Streamlit).

Ratios compare figures of the same run (this machine is shared and noisy).

    python -m bench [--seconds 3] [--only proxy,websocket,wakeup,scale,stream,layers]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bench import layers, peers, wakeup
from bench.ingress import ingress
from bench.measure import percentile, table, wrk
from bench.paths import INGRESS, Setup, chp_hop, run_app, setup_dashboard
from bench.scale import scale
from bench.stream import stream
from bench.wsload import messages_per_second, round_trips
from tests.support.hubstack import NO_QUOTAS, ROOT, free_port, hub_stack

PODIUM_EXTRA = """
c.Podium.frameworks = ["streamlit", "voila", "custom"]
c.Podium.token_cache_seconds = 600
c.Podium.user_refresh_interval = 300
c.Podium.check_interval = 5
c.Podium.viewer_request_rate = 0  # the load comes from a few accounts: no per-viewer limit
c.LocalLauncher.warm_runners = {warm}
c.LocalLauncher.sandbox = {sandbox}
c.LocalLauncher.network = {network!r}
c.LocalLauncher.direct_connections = {direct}
c.Podium.pip_args = ["--no-index", "--find-links", {wheels!r}]
""" + NO_QUOTAS.replace("{", "{{").replace("}", "}}")
SIZES = {"2 KB page": "", "1 MB": "1mb"}
CONNECTIONS = (1, 16, 64)


async def proxy(s: Setup, seconds: float) -> None:
    rows: list[list[str]] = []
    ratios: list[list[str]] = []
    for size, page in SIZES.items():
        for connections in CONNECTIONS:
            found = {}
            for path in s.http_paths:
                found[path.name] = await asyncio.to_thread(
                    wrk, path.base + page, path.headers, seconds, connections
                )
                load = found[path.name]
                rows.append(
                    [
                        size,
                        str(connections),
                        path.name,
                        f"{load.rps:,.0f}",
                        f"{load.p50:.2f}",
                        f"{load.p99:.2f}",
                    ]
                )
            podium, peer = found["Podium (CHP+gateway)"], found["peer (CHP+jhsingle)"]
            hop, chp, direct = found["gateway hop"], found["CHP hop"], found["direct"]
            via = found.get(INGRESS)
            ratios.append([
                size, str(connections), f"{podium.rps / peer.rps:.2f}x", f"{podium.p99:.2f} / {peer.p99:.2f}",
                f"{hop.rps / chp.rps:.2f}x", f"{podium.rps / direct.rps:.0%}",
                f"{via.rps / direct.rps:.0%}" if via else "-",
                f"{via.p99:.2f} / {hop.p99:.2f}" if via else "-",
            ])  # fmt: skip
    table("1. proxy path (wrk)", ["response", "conns", "path", "req/s", "p50 ms", "p99 ms"], rows)
    table(
        "   ratios (same run)",
        [
            "response",
            "conns",
            "Podium / peer req/s",
            "p99 ms Podium / peer",
            "gateway hop / CHP hop",
            "CHP path / direct",
            "ingress path / direct",
            "p99 ms ingress path / gateway hop",
        ],
        ratios,
    )


async def websocket(s: Setup, seconds: float) -> None:
    rows = []
    for size, label in ((64, "64 B"), (65536, "64 KB")):
        for path in s.ws_paths:
            rate = await messages_per_second(path.ws, path.headers, size, seconds)
            times = await round_trips(path.ws, path.headers, size, 300)
            rows.append(
                [
                    label,
                    path.name,
                    f"{rate:,.0f}",
                    f"{percentile(times, 0.5):.3f}",
                    f"{percentile(times, 0.99):.3f}",
                ]
            )
    table(
        "2. websocket echo (64 in flight; round trips one at a time)",
        ["message", "path", "msgs/s", "rtt p50 ms", "rtt p99 ms"],
        rows,
    )


SECTIONS: dict[str, Callable[[Setup, float], Coroutine[Any, Any, None]]] = {
    "proxy": proxy,
    "websocket": websocket,
    "wakeup": wakeup.report,
    "scale": scale,
    "stream": stream,
    "layers": layers.report,
}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per load measurement")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--warm-runners", type=int, default=1, help="c.LocalLauncher.warm_runners")
    parser.add_argument(
        "--one-origin",
        action="store_true",
        help="dashboards on the gateway's origin (default: each on its own, as in the demo)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="dashboards' code unconfined (default: in its Landlock sandbox, as in the demo)",
    )
    parser.add_argument(
        "--no-direct",
        action="store_true",
        help="every request through the runner's guard (default: the gateway straight to the "
        "framework, on a connection the guard hands over)",
    )
    parser.add_argument(
        "--network",
        default="private",
        choices=("private", "isolated", "host"),
        help="sandboxed dashboards' network (default: one of their own, as in the demo)",
    )
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))}")
    if not shutil.which("wrk"):
        raise SystemExit("the benchmarks need wrk (apt-get install wrk)")
    peers.install()
    peer_port, peer_token = free_port(), secrets.token_hex(32)
    hub_extra = (
        peers.HUB_EXTRA.format(port=peer_port, token=peer_token)
        + 'c.JupyterHub.log_level = "INFO"\n'
    )
    tmp = Path(tempfile.mkdtemp(prefix="podium-bench-"))
    print(
        f"podium bench, {time.strftime('%Y-%m-%d %H:%M')}, {sys.platform}, python {sys.version.split()[0]}, "
        + (
            "dashboards on the gateway's origin"
            if args.one_origin
            else "each dashboard on its own origin"
        )
        + (", unsandboxed" if args.no_sandbox else f", sandboxed, {args.network} network")
        + (", through the guard" if args.no_direct else ", direct connections")
    )
    try:
        async with hub_stack(
            tmp,
            podium_extra=PODIUM_EXTRA.format(
                warm=args.warm_runners,
                sandbox=not args.no_sandbox,
                network=args.network,
                direct=not args.no_direct,
                wheels=layers.wheels(str(tmp / "wheels")),
            ),
            hub_extra=hub_extra,
            isolated=not args.one_origin,
        ) as stack:
            s = await setup_dashboard(stack)
            async with run_app(stack, s), chp_hop(stack, s), ingress(s):
                peer = await peers.start(
                    stack, peer_port, peer_token, ROOT / "tests" / "apps" / "custom" / "bench.py"
                )
                try:
                    await s.add_peer()
                    for name in chosen:
                        await SECTIONS[name](s, args.seconds)
                finally:
                    peer.terminate()
                    await peer.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
