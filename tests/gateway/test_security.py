"""Attacks on the gateway's sessions, against the real stack (hub, proxy, gateway).

Each test is one threat of THREAT_MODEL.md: a session cookie that is forged, tampered
with, expired, unsigned or borrowed from the hub; a login that would send the browser to
another site; identity headers a client sends itself.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt
import pytest

from gateway.app import create_app
from gateway.config import Podium
from tests.support.flows import api
from tests.support.hubstack import HubStack, browser, browser_login
from tests.support.stacks import stack_fixture

pytestmark = pytest.mark.functional
SESSION = "podium-session"
LIMIT = 2**20  # c.Podium.max_websocket_message here (the app itself takes up to 2 MiB)


stack = stack_fixture(
    "security",
    files={"alice/app/bench.py": "custom/bench.py"},
    podium=f'c.Podium.frameworks = ["custom"]\nc.Podium.max_websocket_message = {LIMIT}\n',
)


def secret(stack: HubStack) -> bytes:
    return bytes.fromhex((stack.dir / "podium_cookie_secret").read_text().strip())


def session_cookie(claims: dict[str, object], key: bytes | str, algorithm: str = "HS256") -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 3600, **claims}, key, algorithm)


async def who(stack: HubStack, cookie: str | None, extra: dict[str, str] | None = None) -> int:
    """The status of the caller's own API (200 signed in, 401 not)."""
    headers = {"Cookie": f"{SESSION}={cookie}"} if cookie else {}
    headers.update(extra or {})
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.podium + "_/api/user", headers=headers) as r,
    ):
        return r.status


async def test_a_genuine_session_works(stack: HubStack) -> None:
    assert await who(stack, session_cookie({"sub": "alice", "xsrf": "x"}, secret(stack))) == 200


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda key: session_cookie({"sub": "alice"}, b"another key" * 4), id="other key"),
        pytest.param(lambda key: session_cookie({"sub": "alice", "exp": int(time.time()) - 5}, key), id="expired"),
        pytest.param(lambda key: session_cookie({"sub": "alice"}, "", "none"), id="alg none"),
        pytest.param(lambda key: jwt.encode({"sub": "alice"}, key, "HS256"), id="no expiry"),
        pytest.param(lambda key: session_cookie({"sub": "alice"}, key)[:-4] + "AAAA", id="bad signature"),
        pytest.param(lambda key: "not-a-jwt", id="garbage"),
    ],
)  # fmt: skip
async def test_forged_expired_and_unsigned_sessions_are_nobody(stack: HubStack, forge) -> None:  # type: ignore[no-untyped-def]
    assert await who(stack, forge(secret(stack))) == 401


async def test_a_tampered_session_is_nobody(stack: HubStack) -> None:
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        genuine = next(c.value for c in bob.cookie_jar if c.key == SESSION)
    assert await who(stack, genuine) == 200
    head, _, signature = genuine.split(".")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    as_alice = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps({**claims, "sub": "alice"}, separators=(",", ":")).encode()
    ).decode()
    assert await who(stack, f"{head}.{as_alice}.{signature}") == 401


async def test_the_hubs_own_cookies_are_not_a_session(stack: HubStack) -> None:
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        hub_cookies = "; ".join(
            f"{c.key}={c.value}" for c in bob.cookie_jar if c.key.startswith("jupyterhub")
        )
    assert hub_cookies, "the hub set its cookies"
    assert await who(stack, None, {"Cookie": hub_cookies}) == 401


async def test_identity_headers_from_clients_count_for_nothing(stack: HubStack) -> None:
    for header in ("X-Podium-User", "X-Forwarded-User", "Remote-User", "X-Remote-User"):
        assert await who(stack, None, {header: "admin"}) == 401


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/hub/admin",
        "/dashboards\\..\\x",
    ],
)
async def test_login_never_sends_the_browser_elsewhere(stack: HubStack, next_url: str) -> None:
    async with browser() as carol:
        await browser_login(carol, stack, "carol")  # signed in: the login comes straight back
        async with carol.get(
            stack.podium + "_/login", params={"next": next_url}, allow_redirects=True
        ) as r:
            final = r.url
    assert final.host == "127.0.0.1" and final.path.startswith("/dashboards/"), final


async def test_an_oversized_websocket_message_closes_the_socket_before_the_app(
    stack: HubStack,
) -> None:
    token = await stack.token_for("alice")
    doc = {"name": "echo", "framework": "custom", "source": {"type": "storage", "path": "app"},
           "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"]}  # fmt: skip
    assert (await api(stack, token, "POST", "/dashboards", doc))[0] == 201
    await api(stack, token, "POST", "/dashboards/alice/echo/start")
    url = stack.base.replace("http", "ws", 1) + "/dashboards/alice/echo/ws"
    headers = {"Authorization": f"token {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(300):  # until it is ready
            async with session.get(stack.podium + "alice/echo/") as r:
                if r.status == 200:
                    break
            await asyncio.sleep(0.1)
        async with session.ws_connect(url) as ws:
            assert ws.compress == 0, "no compression: a small frame could inflate in the app"
            await ws.send_bytes(b"x" * LIMIT)  # at the limit: passes
            assert len(await ws.receive_bytes(timeout=10)) == LIMIT
            await ws.send_bytes(b"x" * (LIMIT + 1))  # over it (the app would take it)
            closing = await ws.receive(timeout=10)
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1009, closing
            assert closing.extra == "message too big"
        async with session.ws_connect(url) as ws:  # the next socket is fine
            await ws.send_str("again")
            assert await ws.receive_str(timeout=10) == "again"


def gateway_writes() -> list[tuple[str, str]]:
    """Every route of the gateway's own (``_/``) that changes something, read from its router:
    a write added later is in this list without anyone remembering to add it."""
    app = create_app(Podium(cookie_secret=b"x" * 32, dashboard_origin="same-origin"))
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path") or ""
        if route.method not in ("GET", "HEAD") and path.startswith("/dashboards/_/"):
            found.append((route.method, path.format(owner="alice", name="not-there", link="x")))
    return sorted(found, key=lambda write: write[1].endswith("/logout"))  # the logout last


async def test_every_write_needs_the_xsrf_value(stack: HubStack) -> None:
    writes = gateway_writes()
    assert len(writes) >= 9, writes  # the API's six, and the new/edit/manage forms
    async with browser() as alice:
        await browser_login(alice, stack, "alice")
        xsrf = next(c.value for c in alice.cookie_jar if c.key == "podium-xsrf")
        for method, path in writes:
            async with alice.request(method, stack.base + path, data={"name": "x"}) as r:
                assert r.status == 403, f"{method} {path} without the XSRF value: {r.status}"
            sent = {"name": "x", "_xsrf": xsrf}
            async with alice.request(method, stack.base + path, data=sent) as r:
                assert r.status != 403, f"{method} {path} with the XSRF value: {r.status}"


async def test_a_login_answer_must_match_the_login_this_browser_began(stack: HubStack) -> None:
    callback = stack.podium + "_/oauth_callback"
    async with browser() as mallory:
        async with mallory.get(callback, params={"code": "c", "state": "s"}) as r:
            assert r.status == 403, "no login was begun in this browser"
        async with mallory.get(stack.podium + "_/login", allow_redirects=False) as r:
            assert r.status == 302  # a login begun: its state is in a signed cookie
        async with mallory.get(callback, params={"code": "c", "state": "another"}) as r:
            assert r.status == 403 and "state mismatch" in await r.text()
