"""Attacks on the gateway's sessions, against the real stack (hub, proxy, gateway).

Each test is one threat of THREAT_MODEL.md: a session cookie that is forged, tampered
with, expired, unsigned or borrowed from the hub; a login that would send the browser to
another site; identity headers a client sends itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest
import pytest_asyncio

from tests.hubstack import HubStack, browser, browser_login, hub_stack

pytestmark = pytest.mark.functional
SESSION = "podium-session"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubStack]:
    async with hub_stack(tmp_path_factory.mktemp("security")) as s:
        yield s


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
