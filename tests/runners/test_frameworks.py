"""Every framework, started by a real runner under /dashboards/alice/demo/, behind the guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.exchanges import ENTRIES, EXCHANGES, TITLES
from tests.support.harness import KEPT, Runner, app_spec, asset_links, start_runner

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def spec_for(framework: str) -> dict[str, Any]:
    if framework == "custom":
        command = ["{python}", "serve.py", "--port", "{port}", "--prefix", "{prefix}"]
        return app_spec("custom", "", custom={"command": command})
    return app_spec(framework, ENTRIES[framework])


@pytest_asyncio.fixture(scope="module", params=sorted(ENTRIES), loop_scope="session")
async def runner(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Runner]:
    framework = request.param
    r = await start_runner(spec_for(framework), tmp_path_factory.mktemp(framework))
    KEPT.append(r)
    try:
        await r.wait_ready()
        yield r
    finally:
        await r.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def fetch_page(session: aiohttp.ClientSession, runner: Runner) -> tuple[str, str]:
    async with session.get(runner.url, headers=runner.headers) as r:
        assert r.status == 200, f"{r.status}: {await r.text()}"
        return str(r.url), await r.text()


async def test_main_page_and_assets(session: aiohttp.ClientSession, runner: Runner) -> None:
    page_url, html = await fetch_page(session, runner)
    assert page_url.startswith(runner.url)
    title = TITLES[runner.spec["framework"]]
    assert title in html
    assets = asset_links(html, page_url)
    assert assets, f"the page links no assets:\n{html[:2000]}"
    for url in assets:
        assert url.startswith(runner.url), f"asset outside the prefix: {url}"
        async with session.get(url, headers=runner.headers) as r:
            assert r.status == 200, f"{url} -> {r.status}"
            await r.read()


async def test_app_round_trip(session: aiohttp.ClientSession, runner: Runner) -> None:
    _, html = await fetch_page(session, runner)
    await EXCHANGES[runner.spec["framework"]](session, runner, html)


async def test_refused_without_credential(session: aiohttp.ClientSession, runner: Runner) -> None:
    for headers in ({}, {"X-Podium-Credential": "wrong-" + runner.spec["credential"]}):
        async with session.get(runner.url, headers=headers, allow_redirects=False) as r:
            assert r.status == 403
    ws = runner.url.replace("http", "ws", 1) + "anything"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(ws)
    assert refused.value.status == 403


async def test_health_reports_ready(session: aiohttp.ClientSession, runner: Runner) -> None:
    async with session.get(runner.url + "_podium/health") as r:
        assert r.status == 200
        body = await r.json()
    assert body["ready"] is True and body["state"] == "ready"


def test_no_traceback_in_the_framework_output(runner: Runner) -> None:
    """Everything above answered; the framework must not have logged an error doing it."""
    assert "Traceback" not in runner.output()


# Owners as the gateway spells them (runners.names): an e-mail name, and escapes (ünï).
# Before issue 13 Streamlit and Dash answered 404 under an escaped prefix: they route the
# decoded path. (A raw "'" cannot be sent from here: aiohttp's URLs turn %27 into "'".)
OWNER_PREFIXES = [
    ("streamlit", "jane.doe@example.org"),
    ("streamlit", "%C3%BCn%C3%AF"),
    ("voila", "jane.doe@example.org"),
    ("voila", "%C3%BCn%C3%AF"),
    ("dash", "%C3%BCn%C3%AF"),
]


@pytest.mark.parametrize(("framework", "owner"), OWNER_PREFIXES)
async def test_under_the_prefix_of_any_hub_user(
    framework: str, owner: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = {**spec_for(framework), "prefix": f"/dashboards/{owner}/q3/"}
    r = await start_runner(spec, tmp_path_factory.mktemp(framework))
    try:
        await r.wait_ready()
        async with aiohttp.ClientSession() as session:
            page_url, html = await fetch_page(session, r)
            for url in asset_links(html, page_url):
                assert url.startswith(r.url), f"asset outside the prefix: {url}"
                async with session.get(url, headers=r.headers) as asset:
                    assert asset.status == 200, f"{url} -> {asset.status}"
            await EXCHANGES[framework](session, r, html)
    finally:
        assert await r.stop() == 0
    assert "Traceback" not in r.output()
