"""Every dashboard on its own origin: a dashboard's page can never act as its viewer.

bob opens alice's hostile dashboard (tests/apps/hostile): its script tries Podium's API with
bob's XSRF value, the hub's API with the hub's, and reads a gateway page. On dashboard origins
all of it fails and nothing is created; on the gateway's own origin (isolation off) the same
page creates a dashboard and a hub token in bob's name — so the test can fail.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.flows import api
from tests.hubstack import HubStack, hub_stack
from tests.runners.harness import APPS
from tests.web.browser import chromium, log_in, person

pytestmark = [pytest.mark.functional]
HOSTILE = {
    "name": "hostile", "framework": "custom", "access": {"mode": "authenticated"},
    "command": ["{python}", "app.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "hostile"},
}  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["isolated", "one-origin"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp(request.param)
    (tmp / "home" / "alice" / "hostile").mkdir(parents=True)
    shutil.copy(APPS / "hostile" / "app.py", tmp / "home/alice/hostile/app.py")
    custom = 'c.Podium.frameworks = ["streamlit", "custom"]\n'
    async with hub_stack(tmp, podium_extra=custom, isolated=request.param == "isolated") as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def bobs_tokens(stack: HubStack) -> list[str]:
    found = await stack.hub_api("GET", "/users/bob/tokens")
    return [t.get("note") or "" for t in found["api_tokens"]]


async def attack(stack: HubStack, browser: Browser) -> tuple[dict[str, Any], str]:
    alice = await stack.token_for("alice")
    status, body = await api(stack, alice, "POST", "/dashboards", HOSTILE)
    assert status == 201, body
    async with person(browser, stack, "bob") as bob:
        await log_in(bob)
        await bob.goto(f"/dashboards/alice/hostile/?viewer=bob&gateway={stack.base}")
        out = bob.page.locator("#out")
        await expect(out).not_to_have_text("", timeout=120_000)
        return json.loads(await out.text_content() or "{}"), bob.page.url


async def test_a_dashboards_page_cannot_act_as_its_viewer(
    stack: HubStack, browser: Browser
) -> None:
    results, where = await attack(stack, browser)
    bob = await stack.token_for("bob")
    _, mine = await api(stack, bob, "GET", "/dashboards")
    created = [d["name"] for d in mine["items"] if d["owner"] == "bob"]
    stolen = [n for n in await bobs_tokens(stack) if n == "stolen"]
    if "isolated" in stack.dir.name:
        assert where.startswith("http://hostile--alice.localhost:"), where
        assert results == {
            "xsrf-cookie": "none", "create": "refused", "hub-token": "refused",
            "hub-login-here": 404, "gateway-page": 404,
        }, results  # fmt: skip
        assert created == [] and stolen == []
    else:  # the same page on the gateway's origin: what isolation prevents
        assert where.startswith(stack.base), where
        assert results["create"] == 201 and results["hub-token"] == 201, results
        assert results["gateway-page"] == "read"
        assert created and stolen
