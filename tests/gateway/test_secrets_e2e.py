"""Secrets on the real stack: a private repository cloned with the dashboard's own login,
a secret in the app's environment, and neither value anywhere a person can look — the
API, the pages, the progress events, the gateway's and the runner's logs — for the
owner, another user or an anonymous visitor."""

from __future__ import annotations

import secrets as random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.flows import api, wait_status
from tests.support.gitserver import inspecting_repository, private_repository
from tests.support.hubstack import HubStack, hub_stack

pytestmark = pytest.mark.functional
TOKEN, SECRET = "t0ken-" + random.token_hex(4), "sk-live-" + random.token_hex(4)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[HubStack, str]]:
    tmp = tmp_path_factory.mktemp("secrets")
    work = inspecting_repository(tmp / "repo")
    extra = (
        'c.Podium.frameworks = ["custom"]\n'
        f'c.Podium.crypt_key = "{random.token_hex(32)}"\n'
        'c.Podium.git_allowed_schemes = ["http"]\n'
        'c.Podium.git_internal_hosts = ["127.0.0.1"]\n'
    )
    with private_repository(work, "alice", TOKEN) as url:
        async with hub_stack(tmp, podium_extra=extra) as s:
            yield s, url


def everything(*texts: Any) -> str:
    return "\n".join(str(t) for t in texts)


async def test_a_private_repository_and_a_secret_reach_the_app_and_no_one_else(
    stack: tuple[HubStack, str],
) -> None:
    s, url = stack
    alice, bob = await s.token_for("alice"), await s.token_for("bob")
    login_url = url.replace("http://", f"http://alice:{TOKEN}@")
    doc = {
        "name": "private", "framework": "custom", "access": {"mode": "authenticated"},
        "command": ["{python}", "inspect_app.py", "--port", "{port}", "--prefix", "{prefix}"],
        "source": {"type": "git", "url": login_url, "path": "app"},
        "secrets": {"API_KEY": SECRET}, "env": {"REGION": "emea"},
    }  # fmt: skip
    status, created = await api(s, alice, "POST", "/dashboards", doc)
    assert status == 201, created
    assert created["source"]["url"] == url and created["source"]["credentials"] is True
    assert created["secrets"] == ["API_KEY"]
    await wait_status(s, {"alice": alice}, "private", "ready", start=True)

    query = "env?name=API_KEY&name=REGION&name=PODIUM_GIT_PASSWORD&name=PODIUM_GIT_USERNAME"
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(
            f"{s.podium}alice/private/{query}", headers={"Authorization": f"token {bob}"}
        ) as r:
            assert r.status == 200
            assert await r.json() == {"API_KEY": SECRET, "REGION": "emea",
                                      "PODIUM_GIT_PASSWORD": None, "PODIUM_GIT_USERNAME": None}  # fmt: skip

        seen = []
        for who in (alice, bob, ""):
            auth = {"Authorization": f"token {who}"} if who else {}
            for path in ("_/api/dashboards", "_/api/dashboards/alice/private",
                         "_/api/dashboards/alice/private/events", "", "_/manage/alice/private",
                         "_/edit/alice/private"):  # fmt: skip
                async with anonymous.get(s.podium + path, headers=auth) as r:
                    seen.append(await r.content.read(200_000))  # the event stream: its start
        shown = everything(*seen)
        assert "API_KEY" in shown  # the owner sees the name
        for value in (TOKEN, SECRET):
            assert value not in shown
            for log in ("podium", *[p.stem for p in s.dir.glob("*.log")]):
                assert value not in s.log(log), log
            for log in (s.dir / "runners").rglob("*.log"):
                assert value not in log.read_text(errors="replace"), log

    # Edited without them (as the form sends the URL back): the login stays, the app runs.
    status, edited = await api(s, alice, "PATCH", "/dashboards/alice/private",
                               {"source": created["source"], "secrets": {"API_KEY": None}})  # fmt: skip
    assert status == 200 and edited["secrets"] == [] and edited["source"]["credentials"]
    await wait_status(s, {"alice": alice}, "private", "ready", start=True)
