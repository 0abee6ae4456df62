"""Parts failing at the worst moment: the gateway killed (-9) during a start and under a live
WebSocket, a runner that keeps crashing. Nothing is lost, nothing is stuck, no storm."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from gateway.domain.dashboards import Dashboard
from gateway.domain.store import Store
from gateway.errors import Unavailable
from tests.support.flows import api, until_ok
from tests.support.hubstack import NO_QUOTAS, ROOT, HubStack, browser, browser_login, hub_stack
from tests.support.postgres import Postgres, fresh_database
from tests.support.stacks import stack_fixture

pytestmark = pytest.mark.functional
APP = ROOT / "tests" / "apps" / "custom" / "bench.py"
SLOW = ["sh", "-c", "sleep 3 && exec {python} bench.py --port {port} --prefix {prefix}"]
FAST = ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"]


stack = stack_fixture(
    "faults",
    files={"alice/app/bench.py": "custom/bench.py"},
    podium='c.Podium.frameworks = ["custom"]\n' + NO_QUOTAS,
)


async def create(stack: HubStack, token: str, name: str, command: list[str]) -> None:
    doc = {"name": name, "framework": "custom", "command": command,
           "source": {"type": "storage", "path": "app"}, "access": {"mode": "authenticated"}}  # fmt: skip
    status, body = await api(stack, token, "POST", "/dashboards", doc)
    assert status == 201, body


async def status_of(stack: HubStack, token: str, name: str) -> str:
    return str((await api(stack, token, "GET", f"/dashboards/alice/{name}"))[1]["status"])


async def until(stack: HubStack, token: str, name: str, wanted: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while (found := await status_of(stack, token, name)) != wanted:
        assert time.monotonic() < deadline, f"{name} is {found}, not {wanted}"
        await asyncio.sleep(0.2)


def runner_port(stack: HubStack, name: str) -> int:
    return int(
        json.loads((stack.dir / "runners" / "alice" / name / "spec.json").read_text())["port"]
    )


def warm_runners(stack: HubStack) -> list[int]:
    pool = str(stack.dir / "runners" / ".warm")
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        if "--warm" in (p.info["cmdline"] or []) and p.info["cwd"] == pool:
            found.append(p.pid)
    return found


async def test_a_start_survives_the_gateway_killed_in_the_middle(stack: HubStack) -> None:
    token = await stack.token_for("alice")
    await create(stack, token, "slow", SLOW)
    assert (await api(stack, token, "POST", "/dashboards/alice/slow/start"))[0] == 202
    await asyncio.sleep(1)  # the runner is up; its framework sleeps before it starts
    waiting = warm_runners(stack)
    port = runner_port(stack, "slow")
    await stack.stop("podium", signal.SIGKILL)
    await stack.start_podium()
    await until(stack, token, "slow", "ready")
    assert runner_port(stack, "slow") == port, "the runner of the first start was adopted"
    # The killed gateway's waiting runner saw its stdin close and left.
    deadline = time.monotonic() + 10
    while set(waiting) & set(warm_runners(stack)):
        assert time.monotonic() < deadline, "a warm runner outlived its gateway"
        await asyncio.sleep(0.2)


async def test_requests_wait_for_a_starting_dashboard_and_people_see_progress(
    stack: HubStack,
) -> None:
    """While a dashboard starts, a person opening it gets the progress page at once; a
    script's request (or a page's asset, a WebSocket reconnecting) waits for it instead
    of a 503."""
    token = await stack.token_for("alice")
    await create(stack, token, "held", SLOW)  # the framework starts 3 s after its runner
    assert (await api(stack, token, "POST", "/dashboards/alice/held/start"))[0] == 202
    page = f"{stack.podium}alice/held/"
    async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as s:
        async with s.get(page, headers={"Accept": "text/html"}) as r:
            assert r.status == 202 and "Starting" in await r.text(), "the progress page"
        async with s.get(page) as r:
            assert r.status == 200 and "small page" in await r.text(), r.status


async def test_a_live_websocket_reconnects_to_the_same_runner(stack: HubStack) -> None:
    token = await stack.token_for("alice")
    await create(stack, token, "live", FAST)
    await api(stack, token, "POST", "/dashboards/alice/live/start")
    await until(stack, token, "live", "ready")
    port = runner_port(stack, "live")
    url = stack.base.replace("http", "ws", 1) + "/dashboards/alice/live/ws"
    headers = {"Authorization": f"token {token}"}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_str("before")
            assert await ws.receive_str() == "before"
            await stack.stop("podium", signal.SIGKILL)
            message = await ws.receive(timeout=10)
            assert message.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            )
        await stack.start_podium()
        async with session.ws_connect(url, headers=headers) as ws:
            await ws.send_str("after")
            assert await ws.receive_str() == "after"
    assert runner_port(stack, "live") == port and await status_of(stack, token, "live") == "ready"


async def test_a_crashing_runner_is_retried_with_backoff_not_in_a_storm(stack: HubStack) -> None:
    token = await stack.token_for("alice")
    await create(stack, token, "crash", ["false"])
    page = f"{stack.podium}alice/crash/"
    async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as session:
        async with session.get(page) as r:
            assert r.status == 503  # starting
        await until(stack, token, "crash", "failed")
        for _ in range(20):  # a viewer hammering reload during the backoff
            async with session.get(page) as r:
                assert r.status == 503
            await asyncio.sleep(0.1)
    log = (stack.dir / "runners" / "alice" / "crash" / "runner.log").read_text()
    assert log.count("--- launch") == 1, "no new start within the backoff (5 s)"


async def test_a_create_survives_the_gateway_killed_in_the_middle(stack: HubStack) -> None:
    """Creates in flight when the gateway dies: each one the client saw succeed is there and
    whole; the others are there whole or not at all, and a retry settles them (201 or 409)."""
    token = await stack.token_for("alice")
    names = [f"new{i}" for i in range(60)]

    async def attempt(name: str) -> int:
        doc = {"name": name, "framework": "custom", "command": FAST,
               "source": {"type": "storage", "path": "app"}}  # fmt: skip
        with contextlib.suppress(aiohttp.ClientError, AssertionError):
            return (await api(stack, token, "POST", "/dashboards", doc))[0]
        return 0  # the connection died with the gateway

    in_flight = [asyncio.ensure_future(attempt(n)) for n in names]
    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    await stack.stop("podium", signal.SIGKILL)  # while most are still in flight
    first = dict(zip(names, await asyncio.gather(*in_flight), strict=True))
    await stack.start_podium()
    assert 201 in first.values() and set(first.values()) - {201}, first
    status, body = await api(stack, token, "GET", "/dashboards?owner=alice&limit=200")
    assert status == 200, body
    stored = {d["name"]: d for d in body["items"] if d["name"].startswith("new")}
    assert {n for n, s in first.items() if s == 201} <= set(stored), "a created dashboard lost"
    for d in stored.values():  # whole: every field as written
        assert d["command"] == FAST and d["source"]["path"] == "app", d
        assert d["status"] == "stopped", d
    retried = {n: await attempt(n) for n in names if first[n] != 201}
    assert set(retried.values()) <= {201, 409}, retried
    assert {n for n, s in retried.items() if s == 409} <= set(stored)
    status, body = await api(stack, token, "GET", "/dashboards?owner=alice&limit=200")
    assert {d["name"] for d in body["items"]} >= set(names)


async def test_while_the_hub_is_down_sessions_work_and_new_logins_read_why(
    stack: HubStack,
) -> None:
    token = await stack.token_for("alice")
    await create(stack, token, "hubless", FAST)
    await api(stack, token, "POST", "/dashboards/alice/hubless/start")
    await until(stack, token, "hubless", "ready")
    page = f"http://127.0.0.1:{stack.podium_port}/dashboards/alice/hubless/"
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        cookies = {c.key: c.value for c in alice.cookie_jar}
    html = {"Accept": "text/html"}
    await stack.stop("jupyterhub")  # the hub, and the proxy it runs
    try:
        await asyncio.sleep(2.5)  # past user_refresh_interval: the gateway would ask the hub
        async with aiohttp.ClientSession(cookies=cookies) as signed_in, signed_in.get(page) as r:
            assert r.status == 200, "a signed-in viewer keeps the dashboard"
        async with aiohttp.ClientSession() as newcomer:
            async with newcomer.get(page, headers=html, allow_redirects=False) as r:
                text = await r.text()
                assert r.status == 503 and r.headers["Retry-After"] == "10", r.status
                assert "JupyterHub is not answering" in text, text
                assert '<meta http-equiv="refresh" content="10">' in text
            async with newcomer.get(page + "../../_/login", allow_redirects=False) as r:
                assert r.status == 503 and "sign in" in await r.text()
    finally:
        await stack.start_hub()
    async with (
        aiohttp.ClientSession() as newcomer,
        newcomer.get(page, headers=html, allow_redirects=False) as r,
    ):
        assert r.status == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]


async def test_a_deleted_owners_dashboards_stop_and_refuse_viewers_but_are_kept(
    stack: HubStack,
) -> None:
    await stack.hub_api("POST", "/users/dave")
    (stack.dir / "home" / "dave" / "app").mkdir(parents=True)
    shutil.copy(APP, stack.dir / "home" / "dave" / "app" / "bench.py")
    dave, bob, admin = [await stack.token_for(u) for u in ("dave", "bob", "admin")]
    doc = {"name": "left", "framework": "custom", "command": FAST,
           "source": {"type": "storage", "path": "app"}, "access": {"mode": "authenticated"}}  # fmt: skip
    assert (await api(stack, dave, "POST", "/dashboards", doc))[0] == 201
    await api(stack, dave, "POST", "/dashboards/dave/left/start")
    page = f"{stack.podium}dave/left/"
    async with aiohttp.ClientSession(headers={"Authorization": f"token {bob}"}) as viewer:
        await until_ok(viewer, page, time.monotonic() + 60)
        await stack.hub_api("DELETE", "/users/dave")
        deadline = time.monotonic() + 30  # user_refresh_interval 2 s + check_interval 1 s
        while (await api(stack, admin, "GET", "/dashboards/dave/left"))[1]["status"] != "stopped":
            assert time.monotonic() < deadline, "the deleted owner's dashboard kept running"
            await asyncio.sleep(0.2)
        async with viewer.get(page) as r:
            assert r.status == 410 and "no longer has an account" in await r.text()
    status, kept = await api(stack, admin, "GET", "/dashboards/dave/left")
    assert status == 200 and kept["message"] == "its owner no longer has an account on the hub"
    folder = str(stack.dir / "runners" / "dave" / "left")
    assert not [p for p in psutil.process_iter(["cwd"]) if p.info["cwd"] == folder], "it stopped"
    assert (await api(stack, admin, "DELETE", "/dashboards/dave/left"))[0] == 204


async def test_a_postgresql_restart_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres
) -> None:
    tmp = tmp_path_factory.mktemp("pg-restart")
    (tmp / "home" / "alice" / "app").mkdir(parents=True)
    shutil.copy(APP, tmp / "home" / "alice" / "app" / "bench.py")
    db = await fresh_database(postgres.url)
    async with hub_stack(
        tmp, db_url=db, podium_extra='c.Podium.frameworks = ["custom"]\n'
    ) as stack:
        token = await stack.token_for("alice")
        await create(stack, token, "steady", FAST)
        await api(stack, token, "POST", "/dashboards/alice/steady/start")
        await until(stack, token, "steady", "ready")
        page = f"{stack.podium}alice/steady/"
        seen: list[int] = []
        async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as session:

            async def view() -> None:
                async with session.get(page) as r:
                    await r.read()
                    seen.append(r.status)

            await view()
            restart = asyncio.get_running_loop().run_in_executor(None, postgres.restart)
            while not restart.done():
                await view()
                await asyncio.sleep(0.05)
            await restart
            for _ in range(20):
                await view()
                await asyncio.sleep(0.05)
        assert seen and all(status == 200 for status in seen), seen
        # The API reads and writes the database again; nothing was lost.
        status, body = await api(stack, token, "GET", "/dashboards/alice/steady")
        assert status == 200 and body["status"] == "ready", body
        await create(stack, token, "after", FAST)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB filesystem of its own (tmpfs), to fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_disk_is_a_clear_error_and_corrupts_nothing(small_disk: Path) -> None:
    store = Store(f"sqlite:///{small_disk}/podium.sqlite")
    await store.open()
    try:
        kept = Dashboard("alice", "kept", "streamlit", entry="app.py")
        await store.create(kept)
        filler = small_disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as f:  # its close fails too
            while True:
                f.write(b"\0" * 65536)  # until the disk is full
        big = "x" * 200_000  # more than the few bytes left
        with pytest.raises(Unavailable) as refused:
            for i in range(20):
                await store.create(
                    Dashboard("alice", f"d{i}", "streamlit", entry="app.py", description=big)
                )
        assert "full" in refused.value.message and refused.value.status == 503
        filler.unlink()
        await store.create(Dashboard("alice", "after", "streamlit", entry="app.py"))
        assert {d.name for d in await store.list()} >= {"kept", "after"}
    finally:
        await store.close()
    with sqlite3.connect(small_disk / "podium.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
