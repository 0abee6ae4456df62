"""The bounded soak: many viewers on many dashboards while runners are killed and the
gateway restarts, counting what the viewers saw and what was lost.

    python -m bench.soak [--seconds 180] [--viewers 200] [--dashboards 20]

Each viewer is a client of its own (like a browser) going through the full path (the
hub's proxy, the gateway, the runner): it loads its dashboard's page, checks the whole
page arrived, waits 50-250 ms and loads it again; one viewer in four also keeps a
WebSocket open and has a message echoed every 0.5 s, reconnecting when it drops.
Faults, spread over the run: a runner killed (-9) at 15, 30, 45, 70 and 85 % of it (a
different dashboard each time), and the gateway restarted (SIGTERM, started again) at 55 %.

Counted, for each request: *ok* (200 and the whole page), *error* (an answer other than
200: the viewer is told to retry, e.g. the progress page while a runner restarts or the
proxy's 503 while the gateway restarts), *lost* (no answer within 30 s, a connection cut
mid-answer, or a wrong or partial page). Counted at the end: dashboards lost (gone, changed,
or not ready again within 60 s) and runners replaced that were not killed. The per-viewer
request limit is off here: the 200 viewers share three hub accounts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from bench.paths import APP, COMMAND, api, ready
from tests.support.hubstack import NO_QUOTAS, HubStack, hub_stack, runner_pid

MARKER = "</table></body></html>"  # the end of the bench app's page: it arrived whole
KILLS_AT = (0.15, 0.30, 0.45, 0.70, 0.85)
AFTERMATH = 5.0  # seconds after a fault whose errors are counted as its own
GATEWAY_RESTART_AT = 0.55
PODIUM_EXTRA = (
    """
c.Podium.frameworks = ["custom"]
c.Podium.check_interval = 5
c.Podium.viewer_request_rate = 0  # the load comes from a few accounts: no per-viewer limit
c.Podium.token_cache_seconds = 300
c.Podium.user_refresh_interval = 300
c.LocalLauncher.warm_runners = 1
"""
    + NO_QUOTAS
)


@dataclass
class Figures:
    viewers: int
    dashboards: int
    seconds: float
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    echoed: int = 0
    socket_drops: int = 0
    runners_killed: int = 0
    gateway_restarts: int = 0
    dashboards_lost: list[str] = field(default_factory=list)
    runners_replaced_unasked: list[str] = field(default_factory=list)
    longest_outage: dict[str, float] = field(default_factory=dict)  # dashboard -> seconds
    faults: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    error_times: list[tuple[float, str, str]] = field(default_factory=list)  # when, what, where
    socket_times: list[float] = field(default_factory=list)  # sockets that dropped

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values()) + sum(self.lost.values())

    def by_fault(self) -> list[str]:
        """The errors and socket drops within AFTERMATH seconds of each fault, and the
        errors seen anywhere else (none expected)."""
        lines = []
        near: set[int] = set()
        for at, what in self.faults:
            errors = [i for i, (t, _, _) in enumerate(self.error_times) if at <= t < at + AFTERMATH]
            near.update(errors)
            drops = sum(1 for t in self.socket_times if at <= t < at + AFTERMATH)
            last = max((self.error_times[i][0] for i in errors), default=at)
            span = f"{last - at:.1f} s" if errors else "-"
            lines.append(
                f"    at {at:5.1f} s {what:<28} {len(errors):5} errors until {span:>6} after, "
                f"{drops} sockets dropped"
            )
        elsewhere = [e for i, e in enumerate(self.error_times) if i not in near]
        shown = ", ".join(f"{status} {name} at {t:.1f} s" for t, status, name in elsewhere[:8])
        lines.append(f"    errors away from any fault: {len(elsewhere)} {shown}")
        return lines

    def report(self) -> str:
        errors = ", ".join(f"{n} x {k}" for k, n in self.errors.most_common()) or "none"
        lost = ", ".join(f"{n} x {k}" for k, n in self.lost.most_common()) or "none"
        worst = max(self.longest_outage.values(), default=0.0)
        return "\n".join(
            [
                f"soak: {self.viewers} viewers over {self.dashboards} dashboards for "
                f"{self.seconds:.0f} s; {self.runners_killed} runners killed, "
                f"{self.gateway_restarts} gateway restart",
                f"  requests        {self.requests:,} ({self.requests / self.seconds:,.0f}/s)",
                f"  ok              {self.ok:,} ({100 * self.ok / max(1, self.requests):.2f} %)",
                f"  errors seen     {sum(self.errors.values()):,} ({errors})",
                f"  requests lost   {sum(self.lost.values())} ({lost})",
                f"  websocket       {self.echoed:,} messages echoed, {self.socket_drops} drops",
                f"  longest outage  {worst:.1f} s seen by one viewer (no 200 in a row)",
                f"  dashboards lost {len(self.dashboards_lost)} {self.dashboards_lost or ''}",
                *self.by_fault(),
                f"  runners replaced without being killed: {len(self.runners_replaced_unasked)}"
                f" {self.runners_replaced_unasked or ''}",
            ]
        )


class Soak:
    def __init__(self, stack: HubStack, tokens: list[str], names: list[str], seconds: float):
        self.stack = stack
        self.tokens = tokens
        self.names = names
        self.seconds = seconds
        self.figures = Figures(0, len(names), seconds)
        self.stopping = asyncio.Event()
        self.began = time.monotonic()

    async def viewer(self, number: int) -> None:
        name = self.names[number % len(self.names)]
        url = f"{self.stack.base}/dashboards/alice/{name}/"
        headers = {"Authorization": f"token {self.tokens[number % len(self.tokens)]}"}
        timeout = aiohttp.ClientTimeout(total=30)
        f = self.figures
        last_ok = time.monotonic()
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            socket = (
                asyncio.ensure_future(self.socket_viewer(session, url + "ws"))
                if number % 4 == 0
                else None
            )
            while not self.stopping.is_set():
                try:
                    async with session.get(url, allow_redirects=False) as r:
                        body = await r.text()
                        if r.status != 200:
                            f.errors[str(r.status)] += 1
                            f.error_times.append(
                                (time.monotonic() - self.began, str(r.status), name)
                            )
                        elif body.endswith(MARKER):
                            f.ok += 1
                            now = time.monotonic()
                            gap = now - last_ok
                            f.longest_outage[name] = max(f.longest_outage.get(name, 0.0), gap)
                            last_ok = now
                        else:
                            f.lost["partial page"] += 1
                except TimeoutError:
                    f.lost["no answer in 30 s"] += 1
                except aiohttp.ClientError as e:
                    f.lost[type(e).__name__] += 1
                await asyncio.sleep(random.uniform(0.05, 0.25))
            if socket is not None:
                socket.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await socket

    async def socket_viewer(self, session: aiohttp.ClientSession, url: str) -> None:
        f = self.figures
        while not self.stopping.is_set():
            opened = False
            try:
                async with session.ws_connect(url, autoping=True) as ws:
                    opened = True
                    while not self.stopping.is_set():
                        text = f"{time.monotonic()}"
                        await ws.send_str(text)
                        if await ws.receive_str(timeout=10) == text:
                            f.echoed += 1
                        else:
                            f.lost["wrong WebSocket echo"] += 1
                        await asyncio.sleep(0.5)
            except (aiohttp.ClientError, TimeoutError, TypeError, ConnectionError):
                if opened:  # the runner or the gateway went away: reconnect
                    f.socket_drops += 1
                    f.socket_times.append(time.monotonic() - self.began)
                await asyncio.sleep(0.5)

    async def faults(self) -> set[str]:
        """Kill runners and restart the gateway on schedule; return the dashboards killed."""
        began = self.began
        killed: set[str] = set()
        plan = [(at, "kill") for at in KILLS_AT] + [(GATEWAY_RESTART_AT, "gateway")]
        for number, (at, what) in enumerate(sorted(plan)):
            await asyncio.sleep(max(0.0, began + at * self.seconds - time.monotonic()))
            if what == "gateway":
                at = time.monotonic()
                await self.stack.stop("podium")
                stopped = time.monotonic()
                await self.stack.start_podium()
                took = f"down {stopped - at:.1f} s + up {time.monotonic() - stopped:.1f} s"
                self.figures.faults.append((at - began, f"gateway restart ({took})"))
                self.figures.gateway_restarts += 1
                continue
            name = self.names[(number * 7) % len(self.names)]
            pid = runner_pid(self.stack, "alice", name)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    psutil.Process(pid).send_signal(signal.SIGKILL)
                    killed.add(name)
                    self.figures.faults.append(
                        (time.monotonic() - began, f"{name}'s runner killed")
                    )
                    self.figures.runners_killed += 1
        return killed

    async def run(self, viewers: int) -> Figures:
        self.figures.viewers = viewers
        before = {name: runner_pid(self.stack, "alice", name) for name in self.names}
        specs = {d["name"]: d for d in await self.dashboards()}
        self.began = time.monotonic()
        tasks = [asyncio.ensure_future(self.viewer(i)) for i in range(viewers)]
        faults = asyncio.ensure_future(self.faults())
        await asyncio.sleep(self.seconds)
        killed = await faults
        self.stopping.set()
        await asyncio.gather(*tasks)
        await self.account(specs, before, killed)
        return self.figures

    async def dashboards(self) -> list[dict[str, object]]:
        body = await api(self.stack, self.tokens[0], "GET", "/dashboards?owner=alice&limit=500")
        return list(body["items"])

    async def account(
        self, specs: dict[str, dict[str, object]], before: dict[str, int | None], killed: set[str]
    ) -> None:
        """Dashboards lost (gone, changed, not ready again) and runners replaced unasked."""
        deadline = time.monotonic() + 60
        for name in self.names:
            with contextlib.suppress(SystemExit, AssertionError):
                await ready(self.stack, self.tokens[0], name, max(1.0, deadline - time.monotonic()))
        now = {d["name"]: d for d in await self.dashboards()}
        lasting = ("framework", "command", "source", "access", "title")
        for name in self.names:
            found = now.get(name)
            if (
                found is None
                or found["status"] != "ready"
                or any(found[k] != specs[name][k] for k in lasting)
            ):
                self.figures.dashboards_lost.append(name)
            elif name not in killed and runner_pid(self.stack, "alice", name) != before[name]:
                self.figures.runners_replaced_unasked.append(name)


async def prepare(stack: HubStack, count: int) -> tuple[list[str], list[str]]:
    """alice's ``count`` dashboards (the bench app, shared with every hub user), ready;
    and tokens for the viewers (bob and carol)."""
    home = stack.dir / "home" / "alice" / "soak"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(APP, home / "bench.py")
    owner = await stack.token_for("alice")
    names = [f"soak-{i:02d}" for i in range(count)]
    for name in names:
        doc = {"name": name, "framework": "custom", "command": COMMAND,
               "source": {"type": "storage", "path": "soak"},
               "access": {"mode": "authenticated"}}  # fmt: skip
        await api(stack, owner, "POST", "/dashboards", doc)
        await api(stack, owner, "POST", f"/dashboards/alice/{name}/start")
    await asyncio.gather(*(ready(stack, owner, name, 300) for name in names))
    tokens = [owner, await stack.token_for("bob"), await stack.token_for("carol")]
    return names, tokens


async def soak(stack: HubStack, viewers: int, dashboards: int, seconds: float) -> Figures:
    names, tokens = await prepare(stack, dashboards)
    return await Soak(stack, tokens, names, seconds).run(viewers)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--dashboards", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="podium-soak-"))
    print(f"podium soak, {time.strftime('%Y-%m-%d %H:%M')}")
    try:
        async with hub_stack(tmp, podium_extra=PODIUM_EXTRA) as stack:
            figures = await soak(stack, args.viewers, args.dashboards, args.seconds)
            print(figures.report())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
