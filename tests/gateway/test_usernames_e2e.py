"""Every username JupyterHub accepts works end to end (issue 13), through a real hub and runners.

An admin creates each hub user through the hub's API; the user publishes a dashboard
with their own hub token, starts it, opens it through configurable-http-proxy and the
gateway, finds the right link in the API, the gallery and the manage page, reads its
log, and wakes it from the progress page. The app (tests/apps/custom/echo_path.py)
answers with the path exactly as it reached it: always the canonical prefix
(``quote(name, safe="@~")``, JupyterHub's own escaping), however the viewer spelt it.
One stack for the whole table, and a light app: the machine is small.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from tests.support.flows import HTML, api
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, hub_stack, runner_pid

pytestmark = [pytest.mark.functional]

# name -> other spellings of its URL segment that a browser or a client may send
NAMES = {
    "jane.doe@example.org": ["jane.doe%40example.org"],
    "o'neil": ["o'neil"],  # a browser sends ' raw
    "a+b": ["a+b"],
    "ünï": ["%c3%bcn%c3%af"],
    "x_y-z": ["%78_y-z"],
    "12345": [],
}
ECHO = {
    "name": "q3",
    "framework": "custom",
    "command": ["{python}", "echo_path.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "app"},
    "access": {"mode": "authenticated"},
}


def segment(name: str) -> str:
    """What every link must say: JupyterHub's url_escape_path, written out independently."""
    return quote(name, safe="@~")


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["one-origin", "isolated"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    """On the gateway's origin, and each dashboard on its own (``<label>.localhost``)."""
    tmp = tmp_path_factory.mktemp("usernames")
    for name in NAMES:  # each user's storage: the folder named as the user (LocalLauncher)
        (tmp / "home" / name / "app").mkdir(parents=True)
        shutil.copy(APPS / "custom" / "echo_path.py", tmp / "home" / name / "app")
    extra = 'c.Podium.frameworks = ["custom", "streamlit"]\n'
    async with hub_stack(tmp, podium_extra=extra, isolated=request.param == "isolated") as s:
        yield s


async def fetch(
    stack: HubStack,
    token: str,
    path: str,
    *,
    verbatim: bool = True,
    owner: str = "",
    **kwargs: Any,
) -> tuple[int, str, str]:
    """GET ``path`` through the hub's proxy; verbatim: as written (aiohttp would otherwise
    turn %27 into ' and %40 into @, as some clients do). With ``owner``: the path is in
    that owner's dashboard q3, where it is served (its own origin, when isolated)."""
    base = stack.base
    headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
    if owner and stack.isolated:
        base = f"http://127.0.0.1:{stack.podium_port}"
        headers["Host"] = stack.dashboard_host(owner, "q3")
    url = URL(base + path, encoded=True) if verbatim else base + path
    async with (
        aiohttp.ClientSession() as s,
        s.get(url, headers=headers, allow_redirects=False, **kwargs) as r,
    ):
        return r.status, r.headers.get("Location", ""), await r.text()


async def until(stack: HubStack, token: str, path: str, wanted: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await api(stack, token, "GET", path)
        assert status == 200, body
        if body["status"] == wanted:
            return
        assert body["status"] != "failed", body
        assert time.monotonic() < deadline, f"never {wanted}: {body}"
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("name", list(NAMES))
async def test_every_hub_username_works_end_to_end(stack: HubStack, name: str) -> None:
    seg = segment(name)
    await stack.hub_api("POST", f"/users/{seg}")
    token = await stack.token_for(seg)
    url = f"/dashboards/{seg}/q3/"

    # publish, with the user's own hub token: the API's url and Location say the link
    status, created = await api(stack, token, "POST", "/dashboards", ECHO)
    assert status == 201, created
    assert (created["owner"], created["url"]) == (name, url)
    one = f"/dashboards/{seg}/q3"
    status, listed = await api(stack, token, "GET", "/dashboards")
    assert [d["url"] for d in listed["items"] if d["owner"] == name] == [url]

    # start, then open through the proxy: the app sees the canonical prefix
    assert (await api(stack, token, "POST", f"{one}/start"))[0] == 202
    await until(stack, token, one, "ready")
    spellings = [seg, *NAMES[name]]
    for spelling in spellings:
        for verbatim in (True, False):
            status, _, text = await fetch(
                stack, token, f"/dashboards/{spelling}/q3/page?x=1", verbatim=verbatim, owner=name
            )
            assert status == 200, (spelling, verbatim, status, text[:300])
            assert json.loads(text)["path"] == f"{url}page?x=1", (spelling, text)

    # the storage folder is the user's own, named as the user; the runner works in its own
    folder = stack.dir / "runners" / name / "q3"
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["source"]["root"] == str(stack.dir / "home" / name)
    assert spec["prefix"] == url
    assert runner_pid(stack, name, "q3") is not None

    # the gallery and the manage page link it canonically; the log is readable
    status, _, gallery = await fetch(stack, token, "/dashboards/", headers=HTML)
    assert status == 200 and f'href="{html_attr(url)}"' in gallery, gallery[:2000]
    status, _, manage = await fetch(stack, token, f"/dashboards/_/manage/{seg}/q3", headers=HTML)
    assert status == 200 and html_attr(url) in manage
    assert f"/dashboards/_/api/dashboards/{html_attr(seg)}/q3" in manage
    status, logs = await api(stack, token, "GET", f"{one}/logs?lines=50")
    assert status == 200 and any("ready after" in line for line in logs["lines"]), logs

    # stopped, a visit shows the progress page (its event stream works), then the app
    assert (await api(stack, token, "POST", f"{one}/stop"))[0] == 200
    status, _, page = await fetch(stack, token, url, headers=HTML)
    assert status == 202 and "Starting" in page, page[:500]
    assert f"/dashboards/_/api/dashboards/{html_attr(seg)}/q3/events" in page
    await until(stack, token, one, "ready")
    status, _, text = await fetch(stack, token, url, owner=name)
    assert status == 200 and json.loads(text)["path"] == url


def html_attr(text: str) -> str:
    """``text`` as Jinja2 autoescape writes it in a page (the ' of o%27neil never appears)."""
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def test_a_name_that_climbs_cannot_publish(stack: HubStack) -> None:
    """'.' and '..' are refused by JupyterHub 6.1 itself; '_' (the gateway's own pages) is
    a valid hub name that cannot be an owner: refused plainly where a dashboard is made."""
    await stack.hub_api("POST", "/users/_")
    token = await stack.token_for("_")
    status, body = await api(stack, token, "POST", "/dashboards", ECHO)
    assert status == 403 and "cannot be published as '_'" in body["message"], body
