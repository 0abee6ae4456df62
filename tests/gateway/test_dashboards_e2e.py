"""The whole story through JupyterHub, configurable-http-proxy, Podium and real runners.

alice publishes a Streamlit app to the group analysts; bob opens the link, the
dashboard wakes up, and its WebSocket works through the whole proxy chain;
carol is refused; an admin stops it; a gateway restart keeps the runner; a
dead runner is noticed and restarted on the next visit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time

import aiohttp
import psutil
import pytest
import pytest_asyncio

from tests.support.flows import HTML, api, open_until_app, streamlit_round_trip, wait_status
from tests.support.hubstack import HubStack, browser, browser_login
from tests.support.stacks import stack_fixture

pytestmark = [pytest.mark.functional, pytest.mark.slow]

SALES = {
    "name": "sales",
    "title": "Sales",
    "framework": "streamlit",
    "entry": "app.py",
    "source": {"type": "storage", "path": "apps/sales"},
    "access": {"mode": "restricted", "groups": ["analysts"]},
}
NOTEBOOK = {
    "name": "notebook",
    "title": "Notebook",
    "framework": "voila",
    "entry": "demo.ipynb",
    "source": {"type": "storage", "path": "notebooks"},
    "access": {"mode": "authenticated"},
}


stack = stack_fixture(
    "e2e", files={"alice/apps/sales": "streamlit", "alice/notebooks": "voila"}
)  # stops the runners it started too


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(stack: HubStack) -> dict[str, str]:
    return {user: await stack.token_for(user) for user in ("alice", "bob", "carol", "admin")}


async def test_publish_share_wake_and_refuse(stack: HubStack, tokens: dict[str, str]) -> None:
    status, created = await api(stack, tokens["alice"], "POST", "/dashboards", SALES)
    assert status == 201, created
    link = stack.base + created["url"]
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        seen = await open_until_app(bob, link, "<title>Streamlit</title>")
        assert seen[0] == 202, "a stopped dashboard shows the progress page first"
        await streamlit_round_trip(bob, stack, "alice/sales/")
        async with bob.get(link + "_stcore/health") as r:
            assert r.status == 200 and await r.text() == "ok"  # the app's own answer
    async with browser() as carol:
        await browser_login(carol, stack, "carol")
        async with carol.get(link, headers=HTML) as r:
            assert r.status == 403
            page = await r.text()
        assert "belongs to alice" in page and "Ask alice to add you" in page
    async with browser() as anonymous, anonymous.get(link, allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"].startswith("/hub/api/oauth2/authorize")


async def test_cross_site_websocket_is_refused(stack: HubStack, tokens: dict[str, str]) -> None:
    await ensure_ready(stack, tokens)
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await bob.ws_connect(
                stack.podium.replace("http", "ws", 1) + "alice/sales/_stcore/stream",
                headers={"Origin": "http://evil.example"},
            )
        assert refused.value.status == 403


async def test_events_logs_and_owner_only_logs(stack: HubStack, tokens: dict[str, str]) -> None:
    await ensure_ready(stack, tokens)
    status, body = await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales/logs?lines=50")
    assert status == 200 and any("ready after" in line for line in body["lines"])
    status, body = await api(stack, tokens["bob"], "GET", "/dashboards/alice/sales/logs")
    assert status == 403
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{stack.podium}_/api/dashboards/alice/sales/events",
            headers={"Authorization": f"token {tokens['bob']}"},
        ) as r,
    ):
        assert r.headers["Content-Type"].startswith("text/event-stream")
        first = json.loads((await r.content.readuntil(b"\n\n")).decode()[len("data: ") :])
    assert first["status"] == "ready"


async def test_admin_stops_then_the_next_visit_wakes_it(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    await ensure_ready(stack, tokens)
    status, _ = await api(stack, tokens["admin"], "POST", "/dashboards/alice/sales/stop")
    assert status == 200
    assert (await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales"))[1][
        "status"
    ] == "stopped"
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        seen = await open_until_app(
            bob, stack.base + "/dashboards/alice/sales/", "<title>Streamlit</title>"
        )
    assert seen[0] == 202


async def test_gateway_restart_keeps_the_runner(stack: HubStack, tokens: dict[str, str]) -> None:
    await ensure_ready(stack, tokens)
    before = runner_pids(stack)
    assert len(before) == 1
    await stack.stop("podium", signal.SIGKILL)
    await stack.start_podium()
    assert runner_pids(stack) == before, "the restart killed or replaced the runner"
    status, body = await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales")
    assert status == 200 and body["status"] == "ready" and body["access"]["groups"] == ["analysts"]
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        assert (
            await open_until_app(
                bob, stack.base + "/dashboards/alice/sales/", "<title>Streamlit</title>"
            )
        ) == [200]
        await streamlit_round_trip(bob, stack, "alice/sales/")


async def test_a_killed_runner_is_started_again_by_itself(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    await ensure_ready(stack, tokens)
    (pid,) = runner_pids(stack)
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while (
        runner_pids(stack) in ([], [pid])
        or (await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales"))[1]["status"]
        != "ready"
    ):
        assert time.monotonic() < deadline, "the dead runner was not replaced"
        await asyncio.sleep(0.5)
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        await open_until_app(
            bob, stack.base + "/dashboards/alice/sales/", "<title>Streamlit</title>"
        )
    assert runner_pids(stack) != [pid]


async def test_voila_for_every_hub_user(stack: HubStack, tokens: dict[str, str]) -> None:
    status, created = await api(stack, tokens["alice"], "POST", "/dashboards", NOTEBOOK)
    assert status == 201, created
    async with browser() as carol:
        await browser_login(carol, stack, "carol")
        await open_until_app(carol, stack.base + created["url"], "the answer is 42")
    status, _ = await api(stack, tokens["alice"], "DELETE", "/dashboards/alice/notebook")
    assert status == 204
    assert not any("notebook" in " ".join(p.cmdline()) for p in runner_processes(stack))


def runner_processes(stack: HubStack) -> list[psutil.Process]:
    marker = str(stack.dir / "runners")
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if "runners" in (proc.info["cmdline"] or []) and (proc.info["cwd"] or "").startswith(
                marker
            ):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def runner_pids(stack: HubStack) -> list[int]:
    return sorted(p.pid for p in runner_processes(stack) if "sales" in (p.info["cwd"] or ""))


async def ensure_ready(stack: HubStack, tokens: dict[str, str]) -> None:
    status, _ = await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales")
    if status == 404:
        assert (await api(stack, tokens["alice"], "POST", "/dashboards", SALES))[0] == 201
    await api(stack, tokens["alice"], "POST", "/dashboards/alice/sales/start")
    deadline = time.monotonic() + 120
    while (await api(stack, tokens["alice"], "GET", "/dashboards/alice/sales"))[1][
        "status"
    ] != "ready":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)


async def test_idle_dashboard_stops_unless_a_viewer_has_it_open(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    idle = {**SALES, "name": "idle", "idle_timeout": 3}
    assert (await api(stack, tokens["alice"], "POST", "/dashboards", idle))[0] == 201
    await wait_status(stack, tokens, "idle", "ready", start=True)
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        url = stack.podium.replace("http", "ws", 1) + "alice/idle/_stcore/stream"
        async with alice.ws_connect(
            url, headers={"Origin": stack.base}, protocols=["streamlit"]
        ) as ws:
            assert ws.protocol == "streamlit"
            await asyncio.sleep(6)  # twice the idle timeout, with the page open
            assert (await api(stack, tokens["alice"], "GET", "/dashboards/alice/idle"))[1][
                "status"
            ] == "ready"
    await wait_status(stack, tokens, "idle", "stopped", timeout=20)  # closed: idle, then stopped
    assert not [p for p in runner_processes(stack) if "idle" in (p.info["cwd"] or "")]
    await api(stack, tokens["alice"], "DELETE", "/dashboards/alice/idle")


async def test_route_survives_a_proxy_restart(stack: HubStack, tokens: dict[str, str]) -> None:
    (proxy,) = [p for p in psutil.process_iter(["cmdline"])
                if f"--api-port {stack.proxy_api_port}" in " ".join(p.info["cmdline"] or [])]  # fmt: skip
    proxy.kill()
    deadline = time.monotonic() + 60
    while "Proxy stopped" not in stack.log("jupyterhub"):
        assert time.monotonic() < deadline, "the hub did not notice the proxy died"
        await asyncio.sleep(0.5)
    for url in (stack.podium + "_/health", stack.base + "/hub/health"):  # ours, then the hub's
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as s, s.get(url) as r:
                    if r.status == 200:
                        break
            assert time.monotonic() < deadline, f"{url} was not restored"
            await asyncio.sleep(0.5)
    status, _ = await api(stack, tokens["alice"], "GET", "/dashboards")
    assert status == 200


async def test_viewers_keep_their_dashboards_while_the_hub_restarts(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    await ensure_ready(stack, tokens)
    gateway = f"http://127.0.0.1:{stack.podium_port}/dashboards/alice/sales/"
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        cookies = {c.key: c.value for c in bob.cookie_jar}
    await asyncio.sleep(2.5)  # past user_refresh_interval: the next request asks the hub
    await stack.stop("jupyterhub")  # the hub, and the proxy it runs, are gone
    try:
        async with (
            aiohttp.ClientSession(cookies=cookies) as s,
            s.get(gateway + "_stcore/health") as r,
        ):
            assert r.status == 200 and await r.text() == "ok"
    finally:
        await stack.start_hub()
