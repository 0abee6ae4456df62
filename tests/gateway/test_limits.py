"""Per-viewer limits: one viewer's flood of requests or WebSockets is refused (429) without
touching the others. The bucket arithmetic on its own, then on the real stack."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from gateway.front.limits import ViewerLimits
from tests.support.flows import api
from tests.support.hubstack import ROOT, HubStack, hub_stack


@pytest.mark.unit
def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    limits = ViewerLimits(rate=10, burst=5, sockets=0)
    assert [limits.allow_request("bob", 0.0) for _ in range(6)] == [True] * 5 + [False]
    assert limits.allow_request("carol", 0.0), "another viewer has a bucket of their own"
    assert not limits.allow_request("bob", 0.05)  # half a request refilled
    assert limits.allow_request("bob", 0.11)
    assert [limits.allow_request("bob", 100.0) for _ in range(6)] == [True] * 5 + [False]


@pytest.mark.unit
def test_sockets_are_counted_per_viewer_and_no_limit_means_none() -> None:
    limits = ViewerLimits(rate=0, burst=0, sockets=2)
    limits.socket_opened("bob")
    limits.socket_opened("bob")
    assert not limits.allow_socket("bob") and limits.allow_socket("carol")
    limits.socket_closed("bob")
    assert limits.allow_socket("bob")
    assert all(ViewerLimits(0, 0, 0).allow_request("x", 0.0) for _ in range(10_000))


@pytest.mark.unit
def test_many_viewers_do_not_grow_memory_for_ever() -> None:
    limits = ViewerLimits(rate=100, burst=10, sockets=0)
    for i in range(50_000):
        limits.allow_request(f"visitor {i}", i * 1.0)  # each bucket full again a second later
    assert limits.tracked <= 10_001


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("limits")
    (tmp / "home" / "alice" / "app").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "apps" / "custom" / "bench.py", tmp / "home" / "alice" / "app")
    extra = (
        'c.Podium.frameworks = ["custom"]\n'
        "c.Podium.viewer_request_rate = 2\nc.Podium.viewer_request_burst = 10\n"
        "c.Podium.viewer_websockets = 2\n"
    )
    async with hub_stack(tmp, podium_extra=extra) as s:
        token = await s.token_for("alice")
        doc = {"name": "echo", "framework": "custom", "access": {"mode": "authenticated"},
               "source": {"type": "storage", "path": "app"},
               "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"]}  # fmt: skip
        assert (await api(s, token, "POST", "/dashboards", doc))[0] == 201
        await api(s, token, "POST", "/dashboards/alice/echo/start")
        for _ in range(300):
            if (await api(s, token, "GET", "/dashboards/alice/echo"))[1]["status"] == "ready":
                break
            await asyncio.sleep(0.1)
        yield s


@pytest.mark.functional
async def test_a_flood_from_one_viewer_is_refused_and_the_others_are_served(
    stack: HubStack,
) -> None:
    page = stack.podium + "alice/echo/"
    bob, carol = (await stack.token_for("bob"), await stack.token_for("carol"))
    async with aiohttp.ClientSession(headers={"Authorization": f"token {bob}"}) as flood:
        statuses = []
        for _ in range(30):
            async with flood.get(page) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert r.headers["Retry-After"] == "1"
                    assert "Too many requests from bob" in await r.text()
        assert statuses[:10] == [200] * 10 and statuses.count(429) >= 15, statuses
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"token {carol}"}) as other,
        other.get(page) as r,
    ):
        assert r.status == 200, "carol has her own allowance"
    await asyncio.sleep(1.1)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"token {bob}"}) as later,
        later.get(page) as r,
    ):
        assert r.status == 200, "bob's allowance refills"


@pytest.mark.functional
async def test_one_viewer_holds_at_most_so_many_websockets(stack: HubStack) -> None:
    url = stack.base.replace("http", "ws", 1) + "/dashboards/alice/echo/ws"
    carol = await stack.token_for("carol")
    async with aiohttp.ClientSession(headers={"Authorization": f"token {carol}"}) as s:
        first, second = await s.ws_connect(url), await s.ws_connect(url)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(url)
        assert refused.value.status == 429
        await first.close()
        await asyncio.sleep(0.2)  # the tunnel's end reaches the gateway
        third = await s.ws_connect(url)
        await third.send_str("still here")
        assert await third.receive_str(timeout=10) == "still here"
        await second.close()
        await third.close()
