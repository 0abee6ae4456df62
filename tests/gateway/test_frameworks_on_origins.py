"""Every framework through the whole chain, on its dashboard's own origin: the hub's proxy,
the gateway's front door on ``<name>--alice.localhost``, the runner. The page, its assets and
one real round trip in the framework's own protocol (tests/runners/exchanges.py), with a hub
token as scripts use them there; and the shareable link sends a browser to that origin."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.support.exchanges import ENTRIES, EXCHANGES, TITLES
from tests.support.flows import api
from tests.support.harness import APPS, asset_links
from tests.support.hubstack import HubStack, browser, browser_login, client, hub_stack

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@dataclass
class Through:
    """A dashboard as the exchanges talk to a runner: here through the gateway."""

    base: str  # the dashboard's origin
    prefix: str
    token: str

    @property
    def url(self) -> str:
        return self.base + self.prefix

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("origins")
    for framework in ENTRIES:
        shutil.copytree(APPS / framework, tmp / "home" / "alice" / framework)
    frameworks = 'c.Podium.frameworks = ["voila", "streamlit", "panel", "bokeh", "dash", '
    frameworks += '"gradio", "shiny", "custom"]\n'
    async with hub_stack(tmp, podium_extra=frameworks, isolated=True) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(stack: HubStack) -> dict[str, str]:
    return {user: await stack.token_for(user) for user in ("alice", "bob")}


async def published(stack: HubStack, token: str, framework: str) -> None:
    doc: dict[str, object] = {
        "name": framework, "framework": framework, "entry": ENTRIES[framework],
        "source": {"type": "storage", "path": framework}, "access": {"mode": "authenticated"},
    }  # fmt: skip
    if framework == "custom":
        doc["command"] = ["{python}", "serve.py", "--port", "{port}", "--prefix", "{prefix}"]
    status, body = await api(stack, token, "POST", "/dashboards", doc)
    assert status == 201, body
    await api(stack, token, "POST", f"/dashboards/alice/{framework}/start")
    deadline = time.monotonic() + 150
    while (await api(stack, token, "GET", f"/dashboards/alice/{framework}"))[1][
        "status"
    ] != "ready":
        assert time.monotonic() < deadline, f"{framework} did not start"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("framework", sorted(ENTRIES))
async def test_a_framework_on_its_own_origin(
    stack: HubStack, tokens: dict[str, str], framework: str
) -> None:
    await published(stack, tokens["alice"], framework)
    origin = "http://" + stack.dashboard_host("alice", framework)
    dashboard = Through(origin, f"/dashboards/alice/{framework}/", tokens["bob"])
    async with client(headers=dashboard.headers) as session:
        async with session.get(dashboard.url) as r:
            assert r.status == 200, await r.text()
            page_url, html = str(r.url), await r.text()
        assert page_url.startswith(origin) and TITLES[framework] in html
        for url in asset_links(html, page_url):
            async with session.get(url) as r:
                assert r.status == 200, f"{url} -> {r.status}"
        await EXCHANGES[framework](session, dashboard, html)  # type: ignore[arg-type]
    async with browser() as bob:  # the shareable link: signed in there, sent on to the origin
        await browser_login(bob, stack, "bob")
        async with bob.get(stack.podium + f"alice/{framework}/") as r:
            assert r.status == 200 and str(r.url).startswith(dashboard.url)
    await api(stack, tokens["alice"], "POST", f"/dashboards/alice/{framework}/stop")
