"""Share links through the real stack, on one origin and with dashboards on their own: a
visitor with no hub account opens alice's link and sees that dashboard (woken for them),
and nothing else — not her other dashboard, not the API; forged, expired and revoked
links and passes are refused, a revocation at once."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import jwt
import pytest
import pytest_asyncio
from yarl import URL

from tests.support.flows import api
from tests.support.hubstack import HubStack, browser, browser_login, client, hub_stack
from tests.support.stacks import seed

pytestmark = pytest.mark.functional
MARKER = "<h1>small page</h1>"
BENCH = {
    "framework": "custom",
    "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "app"},
    "access": {"mode": "restricted", "users": ["bob"]},
}
PODIUM = """
c.Podium.frameworks = ["custom"]
c.Podium.share_links = True
c.Podium.share_link_max_days = 7
"""
JANE = "jane.doe@example.org"  # a username as JupyterHub allows it
HUB = f'c.Authenticator.allowed_users.add("{JANE}")\n'


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["one-origin", "isolated"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("shares")
    seed(tmp, {"alice/app/bench.py": "custom/bench.py", f"{JANE}/app/bench.py": "custom/bench.py"})
    async with hub_stack(tmp, podium_extra=PODIUM, hub_extra=HUB,
                         isolated=request.param == "isolated") as s:  # fmt: skip
        for owner, name in (("alice", "sales"), ("alice", "other"), (JANE, "mail")):
            token = await s.token_for(owner)
            status, body = await api(s, token, "POST", "/dashboards", {"name": name, **BENCH})
            assert status == 201, body
        yield s


async def make_link(stack: HubStack, doc: dict[str, object]) -> dict[str, str]:
    alice = await stack.token_for("alice")
    status, body = await api(stack, alice, "POST", "/dashboards/alice/sales/links", doc)
    assert status == 201, body
    if body["url"].startswith("/"):  # no public_url here: the hub's own address
        body["url"] = stack.base + body["url"]
    return dict(body)


async def open_link(s: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    async with s.get(url, allow_redirects=False) as r:
        await r.read()
        return r


def pass_of(response: aiohttp.ClientResponse) -> str:
    """The pass a link's answer set, as a ``Cookie`` header sends it."""
    (morsel,) = response.cookies.values()
    return f"{morsel.key}={morsel.value}"


async def until_app(s: aiohttp.ClientSession, url: str, timeout: float = 120) -> None:
    """Open ``url`` as the visitor's browser does until the app answers (it is woken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with s.get(url, allow_redirects=False, headers={"Accept": "text/html"}) as r:
            text = await r.text()
            if r.status == 200 and MARKER in text:
                return
            assert r.status == 503 and "is starting" in text, (r.status, text[:300])
        await asyncio.sleep(0.5)
    raise AssertionError("the dashboard never answered the link's visitor")


async def shown(url: str, cookie: str) -> bool:
    """Whether a browser that sends only ``cookie`` (no jar of its own) gets the app."""
    headers = {"Accept": "text/html", "Cookie": cookie}
    async with client() as s, s.get(url, allow_redirects=False, headers=headers) as r:
        return r.status == 200 and MARKER in await r.text()


async def test_a_link_lets_anyone_view_that_dashboard_alone(stack: HubStack) -> None:
    link = await make_link(stack, {"days": 2, "note": "for ACME"})
    assert "/dashboards/_/share/" in link["url"] and link["state"] == "valid"
    sales, other = stack.dashboard("alice", "sales"), stack.dashboard("alice", "other")
    async with browser() as visitor:  # no hub account, no cookie
        first = await open_link(visitor, link["url"])
        assert first.status == 302 and URL(first.headers["Location"]).path == URL(sales).path
        (given,) = first.cookies.values()
        # Its dashboard's path; on an origin of the dashboard's own, the whole host (a
        # __Host- cookie, on https, must have Path=/).
        assert given["httponly"] and given["path"] == ("/" if stack.isolated else URL(sales).path)
        await until_app(visitor, sales)  # stopped: the visitor's visit starts it
        ws_url = sales.replace("http", "ws", 1) + "ws"
        origin = "http://" + stack.dashboard_host("alice", "sales")
        async with visitor.ws_connect(ws_url, headers={"Origin": origin}) as ws:
            await ws.send_str("hi")
            assert (await ws.receive(timeout=10)).data == "hi"
        # The pass, sent where the browser would never send it, counts for nothing there.
        pass_cookie = pass_of(first)
        assert await shown(sales, pass_cookie)  # the control: the pass alone does it
        assert not await shown(other, pass_cookie)
        async with visitor.get(stack.podium + "_/api/user", headers={"Cookie": pass_cookie}) as r:
            assert r.status == 401
        again = await open_link(visitor, link["url"])  # opened twice: two views
        assert again.status == 302
        # The owner stops it: a tab left open (its background requests) does not wake it;
        # the visitor opening it again does.
        alice = await stack.token_for("alice")
        assert (await api(stack, alice, "POST", "/dashboards/alice/sales/stop"))[0] == 200
        background = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
        async with visitor.get(sales + "health", headers=background) as r:
            assert r.status == 503
        await asyncio.sleep(1.5)
        assert (await api(stack, alice, "GET", "/dashboards/alice/sales"))[1]["status"] == "stopped"
        await until_app(visitor, sales)
    alice = await stack.token_for("alice")
    status, body = await api(stack, alice, "GET", "/dashboards/alice/sales/links")
    assert status == 200
    listed = next(item for item in body["items"] if item["id"] == link["id"])
    assert listed["views"] == 2 and listed["note"] == "for ACME" and "url" not in listed
    status, _ = await api(
        stack, await stack.token_for("bob"), "GET", "/dashboards/alice/sales/links"
    )
    assert status in (403, 404)  # bob may view the dashboard, not its links


async def test_forged_expired_and_revoked_links_are_refused(stack: HubStack) -> None:
    sales = stack.dashboard("alice", "sales")
    async with browser() as visitor:
        forged = await open_link(visitor, stack.podium + "_/share/" + "A" * 43)
        assert forged.status == 404
        # A pass signed with anything but the gateway's key is no pass.
        fake = jwt.encode({"use": "share", "dash": "alice/sales", "link": "x", "exp":
                           int(time.time()) + 3600}, "a key of 32 bytes that is not it", algorithm="HS256")  # fmt: skip
        assert not await shown(sales, f"podium-share={fake}")

    ends = datetime.now(UTC) + timedelta(seconds=10)
    expiring = await make_link(stack, {"expires": ends.isoformat()})
    async with browser() as visitor:
        opened = await open_link(visitor, expiring["url"])
        assert opened.status == 302
        await until_app(visitor, sales)
        assert await shown(sales, pass_of(opened))  # the control, before it ends
        await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 1)
        # Its pass ended with it (sent again by hand: the browser itself drops it then).
        assert not await shown(sales, pass_of(opened))
        late = await open_link(visitor, expiring["url"])
        assert late.status == 410

    revoked = await make_link(stack, {"days": 1})
    async with browser() as visitor:
        opened = await open_link(visitor, revoked["url"])
        assert opened.status == 302
        await until_app(visitor, sales)
        assert await shown(sales, pass_of(opened))  # the control, before it is revoked
        ws_url = sales.replace("http", "ws", 1) + "ws"
        origin = "http://" + stack.dashboard_host("alice", "sales")
        ws = await visitor.ws_connect(ws_url, headers={"Origin": origin})
        await ws.send_str("before")
        assert (await ws.receive(timeout=10)).data == "before"
        alice = await stack.token_for("alice")
        status, _ = await api(
            stack, alice, "DELETE", f"/dashboards/alice/sales/links/{revoked['id']}"
        )
        assert status == 204
        assert not await shown(sales, pass_of(opened))  # at once
        # Its open WebSocket (for most frameworks, the dashboard itself) is closed too.
        closing = await ws.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closing
        await ws.close()
        assert (await open_link(visitor, revoked["url"])).status == 410


async def test_a_link_is_bounded_by_the_admin(stack: HubStack) -> None:
    alice = await stack.token_for("alice")
    path = "/dashboards/alice/sales/links"
    far = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    for doc, field in (
        ({"expires": far}, "expires"), ({"days": 0}, "days"), ({}, "expires"),
        ({"days": 1, "note": "x" * 201}, "note"), ({"days": 1, "extra": 1}, "extra"),
        ({"expires": "yesterday"}, "expires"), ({"days": 8}, "days"), ({"days": 10**400}, "days"),
    ):  # fmt: skip
        status, body = await api(stack, alice, "POST", path, doc)
        assert status == 400 and body.get("field") == field, (doc, body)


async def test_the_manage_page_makes_lists_and_revokes_links(stack: HubStack) -> None:
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        manage = stack.podium + "_/manage/alice/sales"
        xsrf = next(c.value for c in alice.cookie_jar if c.key == "podium-xsrf")
        form = {"_xsrf": xsrf, "action": "share", "days": "3", "note": "for the board"}
        async with alice.post(manage, data=form) as r:
            page = await r.text()
            assert r.status == 200 and "copy it now, it is not shown again" in page
        made = re.search(r'id="new-share-link" readonly value="([^"]+)"', page)
        assert made and "/dashboards/_/share/" in made.group(1)
        async with alice.get(manage) as r:
            page = await r.text()
        assert "for the board" in page and "new-share-link" not in page  # shown once
        _, body = await api(stack, await stack.token_for("alice"), "GET",
                                 "/dashboards/alice/sales/links")  # fmt: skip
        link = next(item for item in body["items"] if item["note"] == "for the board")
        form = {"_xsrf": xsrf, "action": "unshare", "link": link["id"]}
        async with alice.post(manage, data=form) as r:
            assert r.status == 200 and "revoked" in await r.text()


async def test_an_email_usernames_link_shows_her_dashboard(stack: HubStack) -> None:
    jane = await stack.token_for(JANE)
    status, link = await api(stack, jane, "POST", f"/dashboards/{JANE}/mail/links", {"days": 1})
    assert status == 201, link
    url = stack.base + link["url"] if link["url"].startswith("/") else link["url"]
    mail = stack.dashboard(JANE, "mail")
    async with browser() as visitor:
        first = await open_link(visitor, url)
        assert first.status == 302 and URL(first.headers["Location"]).path == URL(mail).path
        await until_app(visitor, mail)
        assert not await shown(stack.dashboard("alice", "sales"), pass_of(first))
