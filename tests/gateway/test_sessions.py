"""Sessions end: a logout is a POST with the XSRF value and ends every session of the user
at once, on every replica (the store); a session in use slides, one unused expires."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import pytest
from yarl import URL

from gateway.domain.store import Store
from gateway.hub.auth import Auth
from gateway.hub.signin import follow_logouts
from tests.support.hubstack import HubStack, browser, browser_login, client, log_out
from tests.support.stacks import stack_fixture

stack = stack_fixture("sessions")


def session_of(jar: object) -> str:
    return next(c.value for c in jar if c.key == "podium-session")  # type: ignore[attr-defined]


@pytest.mark.functional
async def test_a_copied_session_is_nobody_after_logout(stack: HubStack) -> None:
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        copied = session_of(bob.cookie_jar)
        async with bob.get(stack.podium + "_/logout", allow_redirects=False) as r:
            assert r.status == 200  # a GET only asks: another site cannot log bob out
        async with bob.get(stack.podium + "_/api/user") as r:
            assert (await r.json())["name"] == "bob"
        await log_out(bob, stack)
    async with browser() as mallory:  # the value copied before the logout
        mallory.cookie_jar.update_cookies({"podium-session": copied}, response_url=URL(stack.base))
        async with mallory.get(stack.podium + "_/api/user") as r:
            assert r.status == 401 or (await r.json()).get("name") != "bob"
    async with browser() as bob:  # a new login works at once
        await browser_login(bob, stack, "bob")
        async with bob.get(stack.podium + "_/api/user") as r:
            assert (await r.json())["name"] == "bob"


@pytest.mark.functional
async def test_logging_out_of_the_hub_ends_the_podium_session(stack: HubStack) -> None:
    """The hub deletes the OAuth tokens of a browser's hub session at its logout; the
    session begun with one ends within the refresh interval (2 s here), copies included,
    and a new login works."""
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        copied = session_of(bob.cookie_jar)
        async with bob.get(stack.podium + "_/api/user") as r:
            assert (await r.json())["name"] == "bob"
        async with bob.get(stack.base + "/hub/logout") as r:
            assert r.status == 200
        deadline = time.monotonic() + 30
        while True:
            async with (
                client() as c,
                c.get(
                    stack.podium + "_/api/user", headers={"Cookie": f"podium-session={copied}"}
                ) as r,
            ):
                if r.status == 401:
                    break
                assert (await r.json())["name"] == "bob"
            assert time.monotonic() < deadline, "still signed in after the hub's logout"
            await asyncio.sleep(0.5)
        await browser_login(bob, stack, "bob")
        async with bob.get(stack.podium + "_/api/user") as r:
            assert (await r.json())["name"] == "bob"


@pytest.mark.functional
async def test_a_session_in_use_slides_keeping_its_xsrf_value(stack: HubStack) -> None:
    secret = bytes.fromhex((stack.dir / "podium_cookie_secret").read_text().strip())
    now = time.time()
    old = {"sub": "carol", "xsrf": "keep-me", "begun": now - 7200, "iat": int(now) - 7200,
           "exp": int(now) + 600}  # fmt: skip
    cookie = {"Cookie": f"podium-session={jwt.encode(old, secret, 'HS256')}"}
    async with (
        client() as carol,
        carol.get(stack.podium, headers={"Accept": "text/html", **cookie}) as r,
    ):
        assert r.status == 200
        fresh = r.cookies["podium-session"]
    assert fresh["path"] == "/dashboards/" and fresh["httponly"]
    renewed = jwt.decode(fresh.value, secret, algorithms=["HS256"])
    assert renewed["exp"] > old["exp"] + 3600  # a new day from now
    assert renewed["xsrf"] == "keep-me" and renewed["begun"] == old["begun"]


@pytest.mark.functional
async def test_a_logout_on_one_replica_ends_the_session_on_another(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'podium.sqlite'}")
    await store.open()
    replicas = [
        Auth(hub=None, secret=b"s" * 32, prefix="/dashboards/", hub_url="/hub/",  # type: ignore[arg-type]
             client_id="c", callback_url="", session_max_age=3600, refresh_interval=300,
             token_seconds=60)
        for _ in range(2)
    ]  # fmt: skip
    session = jwt.encode(
        {"sub": "bob", "begun": time.time(), "exp": int(time.time()) + 3600}, b"s" * 32, "HS256"
    )
    tasks = [asyncio.ensure_future(follow_logouts(a, store, every=0.2)) for a in replicas]
    try:
        assert all(a._cookie_claims(session, None) for a in replicas)
        await store.record_logout("bob", replicas[0].log_out("bob"))
        assert replicas[0]._cookie_claims(session, None) is None  # here, at once
        deadline = time.monotonic() + 5
        while replicas[1]._cookie_claims(session, None) is not None:
            assert time.monotonic() < deadline, "the other replica never heard of the logout"
            await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await store.close()
