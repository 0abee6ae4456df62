"""Every dashboard on its own origin: a dashboard's page can never act as its viewer.

bob opens alice's hostile dashboard (tests/apps/hostile): its script tries Podium's API with
bob's XSRF value, the hub's API with the hub's, and reads a gateway page. On dashboard origins
all of it fails and nothing is created; on the gateway's own origin (isolation off) the same
page creates a dashboard and a hub token in bob's name — so the test can fail.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from playwright.async_api import Error as PlaywrightError

from tests.support.browser import chromium, log_in, person
from tests.support.flows import api
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, hub_stack

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


async def test_a_sign_in_link_alice_sends_bob_does_not_make_him_alice(
    stack: HubStack, browser: Browser
) -> None:
    """The sign-in code is bound to the browser that asked for it: alice stops her own
    browser at the dashboard's sign-in link and has bob open it; bob stays himself."""
    if "isolated" not in stack.dir.name:
        pytest.skip("one origin has no sign-in hand-off")
    alice = await stack.token_for("alice")
    await api(stack, alice, "POST", "/dashboards", HOSTILE)  # 409 when the test above made it
    async with person(browser, stack, "alice") as her:
        await log_in(her)
        links: list[str] = []
        # Stopped where devtools would show it (Playwright's routes miss redirects; CDP's
        # Fetch does not): the sign-in link, not followed.
        cdp = await her.context.new_cdp_session(her.page)

        async def keep(event: dict[str, Any]) -> None:
            paused = {"requestId": event["requestId"]}
            if "/_/signin?" not in event["request"]["url"]:  # CDP's "?" is any character
                await cdp.send("Fetch.continueRequest", paused)
                return
            links.append(event["request"]["url"])
            await cdp.send("Fetch.failRequest", {**paused, "errorReason": "Aborted"})

        cdp.on("Fetch.requestPaused", keep)
        await cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*/dashboards/_/signin?*"}]})
        with contextlib.suppress(PlaywrightError):  # aborted there (or the progress page)
            await her.goto("/dashboards/alice/hostile/")
        for _ in range(240):  # the first open may show the progress page, which goes on
            if links:
                break
            await her.page.wait_for_timeout(500)
        assert links, "alice's browser was never sent to the sign-in"
        url = links[0]
        assert "/_/signin?" in url, url
    async with person(browser, stack, "bob") as bob:
        await log_in(bob)
        opened = await bob.page.goto(url)
        assert opened is not None and opened.status == 403
        assert "another browser" in await bob.page.content()
        cookies = await bob.context.cookies()
        assert not [c for c in cookies if c["name"] == "podium-dashboard"], cookies
        await bob.goto("/dashboards/alice/hostile/?viewer=bob")  # his own way in still works
        await expect(bob.page.locator("#out")).not_to_have_text("", timeout=60_000)
        assert bob.page.url.startswith("http://hostile--alice.localhost:")
        assert [c for c in await bob.context.cookies() if c["name"] == "podium-dashboard"]
