"""The paths the benchmarks compare, all to the same app (``tests/apps/custom/bench.py``).

- direct: the framework started by hand, nothing in front;
- Podium (CHP+gateway): the hub's proxy, the gateway, the runner's guard, the framework;
- Podium (ingress+gateway): an ingress controller (nginx) straight to the gateway, no
  configurable-http-proxy: the chart's Ingress (bench/ingress.py);
- peer (CHP+jhsingle): the hub's proxy, jhsingle-native-proxy, the framework;
- gateway hop / CHP hop: Podium's gateway alone, or a configurable-http-proxy alone,
  in front of the same runner (guard + framework): one hop against the other.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import peers
from tests.support.flows import api as call
from tests.support.flows import until_ok
from tests.support.hubstack import CHP, ROOT, HubStack, free_port

DASHBOARD = "/dashboards/alice/bench/"
INGRESS = "Podium (ingress+gateway)"  # bench/ingress.py: when nginx can be had
APP = ROOT / "tests" / "apps" / "custom" / "bench.py"
COMMAND = ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"]


@dataclass(frozen=True)
class Target:
    name: str
    base: str  # the app's root, ending in "/"
    headers: dict[str, str]

    @property
    def ws(self) -> str:
        return self.base.replace("http", "ws", 1) + "ws"


@dataclass
class Setup:
    stack: HubStack
    token: str
    runner_port: int
    credential: str
    app_port: int = 0
    chp_port: int = 0
    targets: dict[str, Target] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def http_paths(self) -> list[Target]:
        names = ("direct", "Podium (CHP+gateway)", INGRESS, "peer (CHP+jhsingle)", "gateway hop",
                 "CHP hop")  # fmt: skip
        return [self.targets[n] for n in names if n in self.targets]

    @property
    def ws_paths(self) -> list[Target]:
        names = ("direct", "Podium (CHP+gateway)", INGRESS, "peer (CHP+jhsingle)")
        return [self.targets[n] for n in names if n in self.targets]

    async def add_peer(self) -> None:
        """The peer path, once jhsingle-native-proxy has started its app (on first request)."""
        peer = Target("peer (CHP+jhsingle)", self.stack.base + peers.PREFIX, self.auth)
        await wait_for(peer.base, peer.headers, 120)
        self.targets[peer.name] = peer


async def wait_for(url: str, headers: dict[str, str], seconds: float) -> None:
    async with aiohttp.ClientSession(headers=headers) as session:
        await until_ok(session, url, time.monotonic() + seconds)


async def api(stack: HubStack, token: str, method: str, path: str, body: object = None) -> Any:
    """A call to Podium's API that must succeed."""
    status, found = await call(stack, token, method, path, body)
    assert status < 300, f"{method} {path}: {status} {found}"
    return found


async def ready(stack: HubStack, token: str, name: str, seconds: float = 120) -> None:
    for _ in range(int(seconds * 10)):
        if (await api(stack, token, "GET", f"/dashboards/alice/{name}"))["status"] == "ready":
            return
        await asyncio.sleep(0.1)
    raise SystemExit(
        f"alice/{name} was not ready within {seconds} s:\n{stack.log('podium')[-2000:]}"
    )


async def setup_dashboard(stack: HubStack) -> Setup:
    """alice's ``bench`` dashboard (a custom command: the app itself), started and ready."""
    home = stack.dir / "home" / "alice" / "bench"
    home.mkdir(parents=True)
    shutil.copy(APP, home / "bench.py")
    token = await stack.token_for("alice")
    body = {
        "name": "bench",
        "framework": "custom",
        "command": COMMAND,
        "source": {"type": "storage", "path": "bench"},
    }
    await api(stack, token, "POST", "/dashboards", body)
    await api(stack, token, "POST", "/dashboards/alice/bench/start")
    await ready(stack, token, "bench")
    spec = json.loads((stack.dir / "runners" / "alice" / "bench" / "spec.json").read_text())
    s = Setup(stack, token, spec["port"], spec["credential"])
    # On its own origin (the default here): the same sockets, the dashboard's Host.
    headers = {**s.auth, **on_its_origin(stack, "bench")}
    s.targets["Podium (CHP+gateway)"] = Target(
        "Podium (CHP+gateway)", stack.base + DASHBOARD, headers
    )
    s.targets["gateway hop"] = Target(
        "gateway hop", f"http://127.0.0.1:{stack.podium_port}{DASHBOARD}", headers
    )
    return s


def on_its_origin(stack: HubStack, name: str) -> dict[str, str]:
    """The ``Host`` of alice's dashboard ``name`` when it is served on its own origin."""
    return {"Host": stack.dashboard_host("alice", name)} if stack.isolated else {}


@asynccontextmanager
async def background(
    stack: HubStack, name: str, argv: list[str], url: str, headers: dict[str, str]
) -> AsyncIterator[None]:
    with (stack.dir / f"{name}.log").open("ab") as log:
        process = await asyncio.create_subprocess_exec(*argv, cwd=stack.dir, stdout=log, stderr=log)
    try:
        await wait_for(url, headers, 30)
        yield
    finally:
        process.terminate()
        await process.wait()


@asynccontextmanager
async def run_app(stack: HubStack, s: Setup) -> AsyncIterator[None]:
    """The framework started by hand: the floor."""
    s.app_port = free_port()
    argv = [sys.executable, str(APP), "--port", str(s.app_port), "--prefix", DASHBOARD]
    s.targets["direct"] = Target("direct", f"http://127.0.0.1:{s.app_port}{DASHBOARD}", {})
    async with background(stack, "direct-app", argv, s.targets["direct"].base, {}):
        yield


@asynccontextmanager
async def chp_hop(stack: HubStack, s: Setup) -> AsyncIterator[None]:
    """A second configurable-http-proxy whose default target is the runner."""
    s.chp_port = free_port()
    argv = [
        str(CHP), "--ip", "127.0.0.1", "--port", str(s.chp_port), "--api-ip", "127.0.0.1",
        "--api-port", str(free_port()), "--default-target", f"http://127.0.0.1:{s.runner_port}",
        "--log-level", "warn",
    ]  # fmt: skip
    headers = {"X-Podium-Credential": s.credential}
    s.targets["CHP hop"] = Target("CHP hop", f"http://127.0.0.1:{s.chp_port}{DASHBOARD}", headers)
    async with background(stack, "chp-hop", argv, s.targets["CHP hop"].base, headers):
        yield
