"""The front door's routing decisions, one request at a time: which requests go to a
runner, which to the application, which are answered at the door. Real objects — the
configuration, the store (SQLite), the lifecycle's read cache, the origins — and no hub:
the viewers here are anonymous (the hub's part is in the end-to-end tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gateway import keys
from gateway.app import create_app
from gateway.config import Podium
from gateway.domain.dashboards import Access, Dashboard
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.runtime import Runtime, RuntimeRecord
from gateway.domain.shares import ShareLinks
from gateway.domain.store import Store
from gateway.front.door import FrontDoor, Tag
from gateway.front.passes import Passes
from gateway.hub.auth import Auth
from gateway.hub.client import Hub
from gateway.launchers.base import Launcher
from relay.http1 import parse_request
from relay.policy import Forward, Verdict

pytestmark = pytest.mark.unit

APP_SOCKET = "/run/podium-app.sock"
RUNNER = ("127.0.0.1", 41234)


async def door_for(tmp_path: Path, origin: str, **options: object) -> AsyncIterator[FrontDoor]:
    config = Podium(
        cookie_secret=b"s" * 32,
        dashboard_origin=origin,
        public_url="http://hub.example.org",
        public_enabled=True,
        **options,
    )
    app = create_app(config)
    store = Store(f"sqlite:///{tmp_path}/podium.sqlite")
    await store.open()
    running = RuntimeRecord(Runtime("l1", *RUNNER, time.time()))
    for name, mode, status in [
        ("open", "public", "ready"),
        ("team", "authenticated", "ready"),
        ("asleep", "public", "stopped"),
    ]:
        await store.create(Dashboard("alice", name, "streamlit", entry="app.py",
                                     access=Access(mode)))  # fmt: skip
        if status == "ready":
            await store.set_state("alice", name, status="ready", runtime=running)
    await store.create(Dashboard("o'neil", "open", "streamlit", entry="app.py",
                                 access=Access("public")))  # fmt: skip
    await store.set_state("o'neil", "open", status="ready", runtime=running)
    async with aiohttp.ClientSession() as client:  # never used: no viewer here signs in
        hub = Hub(client, "http://127.0.0.1:1/hub/api/", "token", service="podium")
        app[keys.AUTH] = Auth(
            hub=hub, secret=config.cookie_secret, prefix="/dashboards/",
            hub_url="/hub/", client_id="service-podium", callback_url="",
            session_max_age=3600, refresh_interval=300, token_seconds=60,
        )  # fmt: skip
        lifecycle = Lifecycle(store, Launcher(), config.cookie_secret)
        app[keys.LIFECYCLE] = lifecycle
        app[keys.SHARES] = ShareLinks(store)
        app[keys.PASSES] = Passes(config.cookie_secret, app[keys.SHARES], config.share_links)
        door = FrontDoor(app, APP_SOCKET)
        for owner, name in [("alice", "open"), ("alice", "team"), ("alice", "asleep"),
                            ("o'neil", "open")]:  # fmt: skip
            await lifecycle.reads.lookup(owner, name)  # cached: the door decides at once
        yield door
    await store.close()


@pytest_asyncio.fixture
async def door(tmp_path: Path) -> AsyncIterator[FrontDoor]:
    async for made in door_for(tmp_path, "same-origin"):
        yield made


@pytest_asyncio.fixture
async def isolated(tmp_path: Path) -> AsyncIterator[FrontDoor]:
    async for made in door_for(tmp_path, "http://{dashboard}.localhost:8765"):
        yield made


async def decide(door: FrontDoor, target: str, *headers: str, method: str = "GET",
                 host: str = "hub.example.org") -> Verdict:  # fmt: skip
    """The door's verdict: at once from its caches, or (a dashboard it does not know)
    after it has looked."""
    raw = "\r\n".join((f"{method} {target} HTTP/1.1", f"Host: {host}", *headers))
    verdict = door.decide(parse_request(raw.encode()), "10.0.0.9")
    return await verdict if isinstance(verdict, asyncio.Future) else verdict


def to_runner(verdict: Verdict) -> bool:
    return isinstance(verdict, Forward) and verdict.target == RUNNER


def to_app(verdict: Verdict) -> bool:
    return isinstance(verdict, Forward) and verdict.target == APP_SOCKET


async def test_which_paths_are_a_dashboards(door: FrontDoor) -> None:
    assert door.dashboard_key(b"/dashboards/alice/open/x?y=1") == ("alice", "open")
    assert door.dashboard_key(b"/dashboards/o%27neil/open/") == ("o'neil", "open")
    assert door.dashboard_key(b"/dashboards/alice/sa%20les/") == ("alice", "sa les")
    for path in (b"/dashboards/", b"/dashboards/alice", b"/dashboards/alice/open",
                 b"/dashboards/_/api/dashboards", b"/hub/login", b"/dashboards//x/",
                 b"/dashboards/alice/\xc3\xa9/"):  # fmt: skip
        assert door.dashboard_key(path) is None, path
    assert door.is_page(b"/dashboards/alice/open/")
    assert not door.is_page(b"/dashboards/alice/open/app.js")


async def test_a_ready_dashboard_a_viewer_may_see_goes_to_its_runner(door: FrontDoor) -> None:
    verdict = await decide(door, "/dashboards/alice/open/")
    assert to_runner(verdict)
    assert isinstance(verdict, Forward) and verdict.filtered
    assert verdict.tag == Tag(("alice", "open"), "anonymous at 10.0.0.9")
    assert b"X-Podium-User: \r\n" in verdict.head  # nobody, said so


async def test_a_share_links_pass_opens_its_dashboard_alone(tmp_path: Path) -> None:
    async for door in door_for(tmp_path, "same-origin", share_links=True):
        link, _ = await door.passes.links.create("alice", "team", "", time.time() + 60)
        given = f"Cookie: podium-share={door.passes.issue(link)}"
        assert to_app(await decide(door, "/dashboards/alice/team/"))  # anonymous: no
        assert to_runner(await decide(door, "/dashboards/alice/team/", given))  # its pass: yes
        assert to_runner(await decide(door, "/dashboards/alice/team/", given))  # cached: yes
        await door.passes.links.revoke("alice", "team", link.id)
        door.passes.forget(link.id)
        assert to_app(await decide(door, "/dashboards/alice/team/", given))  # revoked: at once
        other, _ = await door.passes.links.create("alice", "open", "", time.time() + 60)
        elsewhere = f"Cookie: podium-share={door.passes.issue(other)}"
        assert to_app(await decide(door, "/dashboards/alice/team/", elsewhere))  # not its own
    (tmp_path / "off").mkdir()
    async for door in door_for(tmp_path / "off", "same-origin"):  # the admin's leave: none
        link, _ = await door.passes.links.create("alice", "team", "", time.time() + 60)
        given = f"Cookie: podium-share={door.passes.issue(link)}"
        assert to_app(await decide(door, "/dashboards/alice/team/", given))


async def test_everything_else_goes_to_the_application(door: FrontDoor) -> None:
    assert to_app(await decide(door, "/dashboards/_/api/dashboards"))  # the gateway's own
    assert to_app(await decide(door, "/dashboards/alice/team/"))  # not for the anonymous: a login
    assert to_app(await decide(door, "/dashboards/alice/asleep/"))  # not running: woken there
    assert to_app(await decide(door, "/dashboards/alice/gone/"))  # no such dashboard: a 404 there
    websocket = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: x",
                 "Sec-WebSocket-Version: 13")  # fmt: skip
    assert to_app(await decide(door, "/dashboards/alice/open/ws", *websocket,
                         "Origin: https://evil.example"))  # fmt: skip
    assert to_runner(await decide(door, "/dashboards/alice/open/ws", *websocket,
                            "Origin: http://hub.example.org"))  # fmt: skip


async def test_an_owner_spelt_any_way_reaches_the_runner_as_links_spell_it(
    door: FrontDoor,
) -> None:
    verdict = await decide(door, "/dashboards/o'neil/open/x")
    assert to_runner(verdict)
    assert isinstance(verdict, Forward)
    assert verdict.head.startswith(b"GET /dashboards/o%27neil/open/x HTTP/1.1\r\n")


async def test_a_service_worker_is_refused_at_the_door(door: FrontDoor) -> None:
    verdict = await decide(door, "/dashboards/alice/open/sw.js", "Service-Worker: script")
    assert isinstance(verdict, bytes) and verdict.startswith(b"HTTP/1.1 403")


async def test_a_viewer_over_the_rate_is_answered_at_the_door(tmp_path: Path) -> None:
    async for door in door_for(tmp_path, "same-origin", viewer_request_rate=0.001,
                               viewer_request_burst=3):  # fmt: skip
        verdicts = [await decide(door, "/dashboards/alice/open/") for _ in range(5)]
        assert [to_runner(v) for v in verdicts] == [True, True, True, False, False]
        assert isinstance(verdicts[-1], bytes) and verdicts[-1].startswith(b"HTTP/1.1 429")


async def test_with_an_origin_per_dashboard_only_its_own_host_reaches_it(
    isolated: FrontDoor,
) -> None:
    own = "open--alice.localhost:8765"
    assert to_runner(await decide(isolated, "/dashboards/alice/open/", host=own))
    assert to_app(
        await decide(isolated, "/dashboards/alice/open/", host="team--alice.localhost:8765")
    )
    assert to_app(await decide(isolated, "/dashboards/alice/open/", host="hub.example.org"))
    spoofed = await decide(isolated, "/dashboards/alice/open/", f"X-Forwarded-Host: {own}",
                     host="team--alice.localhost:8765")  # fmt: skip
    assert to_app(spoofed)  # the Host decides, never a header a page may set
