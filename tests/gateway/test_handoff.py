"""Sign-in on a dashboard's own origin: codes, the dashboard's cookie, and what a dashboard
origin answers (nothing of the gateway's)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
import pytest_asyncio

from gateway.front.handoff import (
    CODE_SECONDS,
    DASHBOARD_COOKIE,
    STATE_COOKIE,
    Handoff,
    new_nonce,
    nonces_with,
    state_of,
)
from gateway.hub.auth import Auth
from tests.support.flows import api
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, browser, browser_login, client, hub_stack, log_out

SECRET = b"s" * 32
SESSION = {"iat": int(time.time()) - 10, "exp": int(time.time()) + 3600}


def auth() -> Auth:
    return Auth(
        hub=None,  # type: ignore[arg-type]  # reading cookies asks the hub nothing
        secret=SECRET, prefix="/dashboards/", hub_url="/hub/", client_id="c", callback_url="",
        session_max_age=3600, refresh_interval=300, token_seconds=60,
    )  # fmt: skip


NONCE = new_nonce()


@pytest.mark.unit
def test_a_code_opens_one_dashboard_once_in_one_browser() -> None:
    handoff = Handoff(SECRET)
    code = handoff.code("bob", "alice", "sales", SESSION, state_of(NONCE))
    assert handoff.redeem(code, "alice", "other", [NONCE]) is None  # another dashboard's
    redeemed = handoff.redeem(code, "alice", "sales", ["x", NONCE])
    assert redeemed is not None and redeemed[1:] == (SESSION["exp"], NONCE)
    assert handoff.redeem(code, "alice", "sales", [NONCE]) is None  # used
    for wrong in ([new_nonce()], [state_of(NONCE)]):  # another browser's; the digest itself
        code = handoff.code("bob", "alice", "sales", SESSION, state_of(NONCE))
        assert handoff.redeem(code, "alice", "sales", wrong) is None
        # Spent by the refusal: a page that had the viewer's browser mint a code for its
        # own nonce, and reads it from the refusal's address, gets nothing either.
        assert handoff.redeem(code, "alice", "sales", [NONCE]) is None
    other = Handoff(b"x" * 32)
    assert (
        other.redeem(handoff.code("bob", "a", "b", SESSION, state_of(NONCE)), "a", "b", [NONCE])
        is None
    )


@pytest.mark.unit
def test_an_expired_code_is_nothing() -> None:
    handoff = Handoff(SECRET)
    old = {"use": "handoff", "sub": "bob", "dash": "alice/sales", "siat": 0, "sexp": 9e9,
           "state": state_of(NONCE), "jti": "j", "exp": int(time.time()) - 1}  # fmt: skip
    assert handoff.redeem(jwt.encode(old, SECRET, "HS256"), "alice", "sales", [NONCE]) is None
    assert CODE_SECONDS <= 60


@pytest.mark.unit
def test_the_state_cookie_keeps_the_newest_few_sign_ins() -> None:
    value = None
    for n in "abcdef":
        value = nonces_with(value, n)
    assert value == "c.d.e.f"
    assert nonces_with("", "a") == "a"


@pytest.mark.unit
def test_a_dashboards_cookie_is_no_session_and_a_session_no_dashboards_cookie() -> None:
    a = auth()
    handoff = Handoff(SECRET)
    redeemed = handoff.redeem(
        handoff.code("bob", "alice", "s", SESSION, state_of(NONCE)), "alice", "s", [NONCE]
    )
    assert redeemed is not None
    cookie = redeemed[0]
    assert a._cookie_claims(cookie, "alice/s") is not None
    assert a._cookie_claims(cookie, "alice/other") is None
    assert a._cookie_claims(cookie, None) is None  # not a session
    session = jwt.encode({"sub": "bob", **SESSION}, SECRET, "HS256")
    assert a._cookie_claims(session, None) is not None
    assert a._cookie_claims(session, "alice/s") is None  # not a dashboard's cookie
    a.log_out("bob")  # ends both
    assert a._cookie_claims(cookie, "alice/s") is None and a._cookie_claims(session, None) is None


# --- on the wire ---------------------------------------------------------------------------
PROBE = {
    "name": "probe", "framework": "custom", "access": {"mode": "authenticated"},
    "command": ["{python}", "inspect_app.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "probe"},
}  # fmt: skip


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="session",
    params=[
        "http://{dashboard}.localhost:{podium_port}",
        "http://dashboards.localhost:{podium_port}",
    ],
    ids=["origin-per-dashboard", "one-dashboard-origin"],
)
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("handoff")
    (tmp / "home" / "alice" / "probe").mkdir(parents=True)
    shutil.copy(APPS / "custom" / "inspect_app.py", tmp / "home" / "alice" / "probe")
    extra = 'c.Podium.frameworks = ["custom"]\n'
    async with hub_stack(tmp, podium_extra=extra, isolated=request.param) as s:
        alice = await s.token_for("alice")
        assert (await api(s, alice, "POST", "/dashboards", PROBE))[0] == 201
        yield s


async def raw(stack: HubStack, path: str, host: str, **kw: Any) -> tuple[int, str]:
    async with (
        client() as session,
        session.get(
            f"http://127.0.0.1:{stack.podium_port}{path}",
            headers={"Host": host, **kw.pop("headers", {})},
            allow_redirects=False,
            **kw,
        ) as r,
    ):
        return r.status, await r.text()


@pytest.mark.functional
@pytest.mark.parametrize(
    "path",
    [
        "/dashboards/",
        "/dashboards/_/api/dashboards",
        "/dashboards/_/new",
        "/dashboards/_/static/podium.js",
        "/dashboards/_/api/user",
        "/dashboards/alice/other/",  # another dashboard's path on this one's host
        "/dashboards/_/signin?code=x&next=/dashboards/alice/other/",
        "/hub/login",  # the hub answers nothing on a dashboard's origin either
        "/hub/api/user",
    ],
)
async def test_a_dashboard_origin_serves_nothing_of_the_gateway(stack: HubStack, path: str) -> None:
    if path == "/dashboards/alice/other/" and "{dashboard}" not in stack.dashboard_origin:
        pytest.skip("on one origin for all, every dashboard's path is served")
    status, text = await raw(stack, path, stack.dashboard_host("alice", "probe"))
    assert status in (400, 403, 404), (status, text[:200])
    assert "_xsrf" not in text and "podium.js" not in text


async def signin_link(viewer: aiohttp.ClientSession, stack: HubStack, path: str) -> str:
    """The sign-in link the viewer's browser is given for ``path``: the gateway sends it to
    the dashboard's origin for a nonce, the origin back for a code (stopped there)."""
    start = None  # the first visit wakes it (the progress page); then the viewer is sent on
    for _ in range(240):
        async with viewer.get(stack.podium + path, allow_redirects=False) as r:
            if r.status == 302 and "_/signin" in r.headers["Location"]:
                start = r.headers["Location"]
                break
        await asyncio.sleep(0.25)
    origin = "http://" + stack.dashboard_host("alice", "probe")
    assert start is not None and start.startswith(origin + "/dashboards/_/signin/start?")
    async with viewer.get(start, allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"].startswith(stack.podium + "_/signin/code?")
        assert r.headers["Cache-Control"] == "no-store"
        async with viewer.get(r.headers["Location"], allow_redirects=False) as code:
            assert code.status == 302, await code.text()
            link = code.headers["Location"]
    assert link.startswith(origin + "/dashboards/_/signin?")
    return link


@pytest.mark.functional
async def test_a_viewer_crosses_once_per_code(stack: HubStack) -> None:
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        crossing = await signin_link(bob, stack, "alice/probe/headers")
        async with bob.get(crossing) as r:
            assert r.status == 200 and str(r.url).endswith("/dashboards/alice/probe/headers")
            seen = {k.lower(): v for k, v in (await r.json())["headers"]}
        assert seen["x-podium-user"] == "bob" and "cookie" not in seen  # its own cookie stays
        host = stack.dashboard_host("alice", "probe").split(":")[0]
        cookies = {c.key: c for c in bob.cookie_jar if c["domain"] == host}
        assert cookies[DASHBOARD_COOKIE]["httponly"]
        assert STATE_COOKIE not in cookies  # the nonce is spent
        # One origin for all: the cookie is this dashboard's path's only.
        shared = "{dashboard}" not in stack.dashboard_origin
        assert cookies[DASHBOARD_COOKIE]["path"] == ("/dashboards/alice/probe/" if shared else "/")
        async with bob.get(crossing, allow_redirects=False) as r:
            assert r.status == 403  # a code works once
        await log_out(bob, stack)
        async with bob.get(
            crossing.split("_/")[0] + "alice/probe/headers", allow_redirects=False
        ) as r:
            assert r.status == 302 and r.headers["Location"].startswith(stack.base)  # signed out


@pytest.mark.functional
async def test_requests_other_pages_make_do_not_carry_the_viewer(stack: HubStack) -> None:
    """Another dashboard's page (on the same site: its requests carry SameSite=Lax cookies)
    fetches or posts to this one in bob's browser: the dashboard must not take them for
    bob's (a dashboard answering CORS with credentials would be read as him). bob going
    there himself still is bob. The Sec-Fetch headers are what Chromium sends."""
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        crossing = await signin_link(bob, stack, "alice/probe/headers")
        async with bob.get(crossing) as r:
            assert r.status == 200
        base = crossing.split("_/")[0] + "alice/probe/"
        for method, path, site, mode, carried in [
            ("GET", "headers", "same-origin", "cors", True),  # its own page's fetch
            ("GET", "headers", "same-site", "navigate", True),  # bob opening it
            ("GET", "headers", "same-site", "cors", False),  # a sibling's fetch
            ("GET", "headers", "same-site", "navigate/iframe", False),  # a sibling framing it
            ("GET", "headers", "cross-site", "no-cors", False),
            ("POST", "upload", "same-origin", "cors", True),
            ("POST", "upload", "same-site", "navigate", False),  # a sibling's form post
            ("POST", "upload", "same-site", "cors", False),
        ]:
            mode, _, dest = mode.partition("/")
            headers = {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode,
                       "Sec-Fetch-Dest": dest or ("document" if mode == "navigate" else "empty")}  # fmt: skip
            async with bob.request(
                method, base + path, headers=headers, data=b"x", allow_redirects=False
            ) as r:
                reached = r.status == 200  # the app answered: the front door forwarded it
                assert reached == carried, (method, site, mode, r.status)
                if reached and path == "headers":
                    seen = {k.lower(): v for k, v in (await r.json())["headers"]}
                    assert seen["x-podium-user"] == "bob"


@pytest.mark.functional
async def test_a_sign_in_link_sent_to_someone_else_signs_nobody_in(stack: HubStack) -> None:
    """alice takes the sign-in link her own browser was given and sends it to bob: it must
    not sign bob in as alice (his requests would be hers in the dashboard)."""
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        stolen = await signin_link(alice, stack, "alice/probe/headers")
    async with browser() as bob:
        for signed_in in (False, True):
            if signed_in:  # with a sign-in of his own under way: his nonce is not hers
                await browser_login(bob, stack, "bob")
                await signin_link(bob, stack, "alice/probe/headers")
            async with bob.get(stolen, allow_redirects=False) as r:
                assert r.status == 403, await r.text()
                assert "another browser" in await r.text()
            assert not [c for c in bob.cookie_jar if c.key == DASHBOARD_COOKIE]


def scope(set_cookie: str) -> tuple[str, str | None]:
    """The path and domain a ``Set-Cookie`` value applies to."""
    attributes = dict(
        (k.strip().lower(), v) for k, _, v in (a.partition("=") for a in set_cookie.split(";")[1:])
    )
    return attributes.get("path", ""), attributes.get("domain")


@pytest.mark.functional
async def test_a_cookie_planted_beside_the_viewers_is_refused(stack: HubStack) -> None:
    """A page's script (or a sibling host) sets a second dashboard cookie, alice's, where
    bob's is: neither is taken, and the planted copies are deleted."""
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        async with alice.get(await signin_link(alice, stack, "alice/probe/headers")) as r:
            assert r.status == 200
        hers = next(c.value for c in alice.cookie_jar if c.key == DASHBOARD_COOKIE)
    host = stack.dashboard_host("alice", "probe")
    path = "/dashboards/alice/probe/headers"
    shared = "{dashboard}" not in stack.dashboard_origin
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        async with bob.get(await signin_link(bob, stack, "alice/probe/headers")) as r:
            assert r.status == 200
        his = next(c.value for c in bob.cookie_jar if c.key == DASHBOARD_COOKIE)
    for cookies in (f"{DASHBOARD_COOKIE}={hers}; {DASHBOARD_COOKIE}={his}",
                    f"{DASHBOARD_COOKIE}={his}; {DASHBOARD_COOKIE}={hers}"):  # fmt: skip
        async with (
            client() as c,
            c.get(f"http://{host}{path}", headers={"Cookie": cookies}, allow_redirects=False) as r,
        ):
            assert r.status == 400, await r.text()
            deleted = {scope(d) for d in r.headers.getall("Set-Cookie")}
        assert ("/dashboards/alice/probe/", None) in deleted or shared  # a longer path
        assert ("/", "localhost") in deleted  # the parent domain
        assert ("/dashboards/alice/probe/", "localhost") in deleted
        kept = "/dashboards/alice/probe/" if shared else "/"
        assert (kept, None) not in deleted  # bob's stays
    session = f"podium-session={his}; podium-session={hers}"
    status, text = await raw(stack, "/dashboards/", f"127.0.0.1:{stack.podium_port}",
                             headers={"Cookie": session})  # fmt: skip
    assert status == 400 and "two Podium sign-in cookies" in text


@pytest.mark.functional
@pytest.mark.parametrize("prefix", ["x.", "a.b."])
async def test_names_under_a_dashboards_host_serve_nothing(stack: HubStack, prefix: str) -> None:
    """A deeper name (``x.probe--alice.localhost``) is no gateway: cookies a dashboard's
    script sets for its own domain reach it, so nothing of Podium's may answer there."""
    if "{dashboard}" not in stack.dashboard_origin:
        pytest.skip("one dashboard origin for all has no names under it")
    host = prefix + stack.dashboard_host("alice", "probe")
    for path in ("/dashboards/_/api/dashboards", "/dashboards/", "/dashboards/alice/probe/"):
        status, text = await raw(stack, path, host)
        assert status == 404, (path, status, text[:200])


@pytest.mark.functional
async def test_other_names_for_the_gateway_serve_nothing(stack: HubStack) -> None:
    """A dashboard's name on the hub's port (the demo's proxy answers any Host; cookies
    ignore ports): the gateway's pages answer only on its own names."""
    label = stack.dashboard_host("alice", "probe").split(":")[0]
    for host in (f"{label}:{stack.port}", f"anything.example:{stack.podium_port}"):
        for path in ("/dashboards/_/new", "/dashboards/_/api/dashboards", "/dashboards/"):
            status, text = await raw(stack, path, host)
            assert status == 404 and "_xsrf" not in text, (host, path, status)
    assert (await raw(stack, "/dashboards/_/health", "10.1.2.3:8765"))[0] == 200  # probes
    assert (await raw(stack, "/dashboards/_/api/user", f"127.0.0.1:{stack.port}"))[0] == 401


@pytest.mark.unit
@pytest.mark.parametrize(
    ("forwarded", "https_url", "secure"),
    [
        ("https,http", False, True),  # a TLS proxy, then configurable-http-proxy's own
        ("https", False, True),
        ("http", False, False),
        ("http,https", False, False),  # the first proxy saw plain http
        ("http", True, True),  # an https public URL: always
    ],
)
def test_cookies_are_secure_behind_a_tls_proxy(
    forwarded: str, https_url: bool, secure: bool
) -> None:
    from aiohttp.test_utils import make_mocked_request

    a = auth()
    a.https = https_url
    request = make_mocked_request("GET", "/dashboards/", headers={"X-Forwarded-Proto": forwarded})
    assert a.secure(request) is secure
