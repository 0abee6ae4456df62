"""Podium behind a real JupyterHub and configurable-http-proxy: login, tokens, access, the API."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.hubstack import HubStack, browser, browser_login, hub_stack
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.functional

SALES = {
    "name": "sales", "title": "Sales", "framework": "streamlit", "entry": "app.py",
    "source": {"type": "storage", "path": "apps/sales"},
    "access": {"mode": "restricted", "users": [], "groups": ["analysts"]},
}  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["sqlite", "postgresql"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    """The same story on each store the gateway supports."""
    db_url = ""
    if request.param == "postgresql":
        db_url = await fresh_database(request.getfixturevalue("postgres_url"))
    async with hub_stack(tmp_path_factory.mktemp("hub"), db_url=db_url) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tokens(stack: HubStack) -> dict[str, str]:
    return {user: await stack.token_for(user) for user in ("alice", "bob", "carol", "admin")}


async def call(
    stack: HubStack, token: str, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"token {token}", **kw.pop("headers", {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{stack.podium}_/api{path}", headers=headers, json=body, **kw
        ) as r,
    ):
        payload = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, payload


async def test_anonymous_visitor_is_sent_to_the_hub_login(stack: HubStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.podium, allow_redirects=False) as r,
    ):
        assert r.status == 302
        assert r.headers["Location"].startswith(
            "/hub/api/oauth2/authorize?client_id=service-podium"
        )


async def test_browser_login_then_create_with_xsrf(stack: HubStack, tokens: dict[str, str]) -> None:
    async with browser() as session:
        landed = await browser_login(session, stack, "alice")
        assert str(landed.url) == stack.podium
        cookies = {c.key: c for c in session.cookie_jar}
        assert (
            cookies["podium-session"]["httponly"]
            and cookies["podium-session"]["path"] == "/dashboards/"
        )
        async with session.get(stack.podium + "_/api/user") as r:
            me = await r.json()
        assert me["name"] == "alice" and me["admin"] is False and me["can_create"] is True
        async with session.post(stack.podium + "_/api/dashboards", json=SALES) as r:
            assert r.status == 403  # a browser write without the XSRF header
            assert "X-XSRF-Token" in (await r.json())["message"]
        xsrf = cookies["podium-xsrf"].value
        async with session.post(
            stack.podium + "_/api/dashboards", json=SALES, headers={"X-XSRF-Token": xsrf}
        ) as r:
            assert r.status == 201, await r.text()
            created = await r.json()
    assert created["url"] == "/dashboards/alice/sales/"
    assert created["status"] == "stopped"


async def test_access_by_group_and_by_token(stack: HubStack, tokens: dict[str, str]) -> None:
    await ensure_sales(stack, tokens)
    status, listing = await call(stack, tokens["bob"], "GET", "/dashboards")
    assert status == 200 and [d["name"] for d in listing["items"]] == ["sales"]
    assert (await call(stack, tokens["bob"], "GET", "/dashboards/alice/sales"))[0] == 200
    status, listing = await call(stack, tokens["carol"], "GET", "/dashboards")
    assert listing["items"] == []
    status, error = await call(stack, tokens["carol"], "GET", "/dashboards/alice/sales")
    assert status == 404 and error["message"] == "there is no dashboard alice/sales"
    assert (await call(stack, tokens["admin"], "GET", "/dashboards/alice/sales"))[0] == 200
    status, error = await call(stack, "not-a-token", "GET", "/dashboards")
    assert status == 401


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "words"),
    [
        ("alice", "POST", "/dashboards", SALES, 409, "already have a dashboard named 'sales'"),
        ("alice", "POST", "/dashboards", {**SALES, "name": "Bad Name"}, 400, "lowercase"),
        ("alice", "POST", "/dashboards", {**SALES, "name": "x", "framework": "flask"}, 400, "framework must be"),
        ("alice", "POST", "/dashboards", {**SALES, "name": "x", "entry": "../../bob/app.py"}, 400, "'..'"),
        ("alice", "POST", "/dashboards",
         {**SALES, "name": "x", "source": {"type": "git", "url": "file:///etc"}}, 400, "local files"),
        ("alice", "POST", "/dashboards",
         {**SALES, "name": "x", "access": {"mode": "restricted", "groups": ["nope"]}}, 400, "no such hub group: nope"),
        ("alice", "POST", "/dashboards", {**SALES, "name": "x", "access": {"mode": "public"}}, 400, "not enabled"),
        ("alice", "POST", "/dashboards", {**SALES, "name": "x", "source": {"type": "git",
         "url": "https://localhost/r.git"}}, 400, "resolves to an internal address"),
        ("bob", "PATCH", "/dashboards/alice/sales", {"title": "mine now"}, 403, "only alice and admins"),
        ("carol", "PATCH", "/dashboards/alice/sales", {"title": "mine now"}, 404, "no dashboard"),
        ("alice", "PATCH", "/dashboards/alice/sales", {"name": "renamed"}, 400, "cannot be renamed"),
        ("bob", "DELETE", "/dashboards/alice/sales", None, 403, "only alice and admins"),
    ],
)  # fmt: skip
async def test_bad_requests(stack: HubStack, tokens: dict[str, str], who: str, method: str, path: str,
                            body: Any, status: int, words: str) -> None:  # fmt: skip
    await ensure_sales(stack, tokens)
    got, error = await call(stack, tokens[who], method, path, body)
    assert got == status, error
    assert words in error["message"]
    _, listing = await call(stack, tokens["admin"], "GET", "/dashboards")
    assert sorted(d["name"] for d in listing["items"]) == ["sales"], "nothing half-created"


async def test_bodies_that_are_not_json_or_too_big(stack: HubStack, tokens: dict[str, str]) -> None:
    status, error = await call(stack, tokens["alice"], "POST", "/dashboards", data=b"{not json",
                               headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 400 and "not valid JSON" in error["message"]
    huge = json.dumps({**SALES, "name": "huge", "description": "x" * (2 * 1024 * 1024)}).encode()
    status, error = await call(stack, tokens["alice"], "POST", "/dashboards", data=io.BytesIO(huge),
                               headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 413 and "over 1048576 bytes" in error["message"]
    nested = b"[" * 100_000 + b"]" * 100_000  # deep enough to exhaust Python's stack
    status, error = await call(stack, tokens["alice"], "POST", "/dashboards", data=nested,
                               headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 400 and "nests too deeply" in error["message"]
    status, error = await call(stack, tokens["alice"], "GET", "/files?path=" + "a" * 5000)
    assert status == 400 and "too long" in error["message"]
    assert "a" * 300 not in stack.log("podium")  # a log line never copies what was sent


async def test_removing_bob_from_the_group_revokes_access(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    await ensure_sales(stack, tokens)
    assert (await call(stack, tokens["bob"], "GET", "/dashboards/alice/sales"))[0] == 200
    await stack.hub_api("DELETE", "/groups/analysts/users", json={"users": ["bob"]})
    try:
        started = time.monotonic()
        while (await call(stack, tokens["bob"], "GET", "/dashboards/alice/sales"))[0] == 200:
            assert time.monotonic() - started < 15, "bob still sees the dashboard"
            await asyncio.sleep(0.5)
    finally:
        await stack.hub_api("POST", "/groups/analysts/users", json={"users": ["bob"]})


async def test_deleted_user_loses_access(stack: HubStack) -> None:
    await stack.hub_api("POST", "/users/dave")
    token = await stack.token_for("dave")
    assert (await call(stack, token, "GET", "/user"))[0] == 200
    await stack.hub_api("DELETE", "/users/dave")
    started = time.monotonic()
    while (await call(stack, token, "GET", "/user"))[0] == 200:
        assert time.monotonic() - started < 15
        await asyncio.sleep(0.5)
    assert (await call(stack, token, "GET", "/user"))[0] == 401


async def test_admin_manages_any_dashboard(stack: HubStack, tokens: dict[str, str]) -> None:
    await ensure_sales(stack, tokens)
    status, changed = await call(
        stack, tokens["admin"], "PATCH", "/dashboards/alice/sales", {"description": "checked"}
    )
    assert status == 200 and changed["description"] == "checked" and changed["owner"] == "alice"


async def test_openapi_document(stack: HubStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.podium + "_/api/openapi.json") as r,
    ):
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    # Every API route the gateway serves is documented.
    assert set(doc["paths"]) == {
        "/dashboards",
        "/dashboards/{owner}/{name}",
        *(
            f"/dashboards/{{owner}}/{{name}}/{a}"
            for a in ("start", "stop", "restart", "logs", "events")
        ),
        "/dashboards/{owner}/{name}/links",
        "/dashboards/{owner}/{name}/links/{link}",
        "/files",
        "/groups",
        "/user",
    }


async def ensure_sales(stack: HubStack, tokens: dict[str, str]) -> None:
    status, _ = await call(stack, tokens["alice"], "GET", "/dashboards/alice/sales")
    if status == 404:
        status, body = await call(stack, tokens["alice"], "POST", "/dashboards", SALES)
        assert status == 201, body


async def scoped_token(stack: HubStack, user: str, scopes: list[str]) -> str:
    body = await stack.hub_api(
        "POST",
        f"/users/{user}/tokens",
        json={"note": "narrow", "expires_in": 600, "scopes": scopes},
    )
    return str(body["token"])


async def test_tokens_do_what_their_scopes_allow(stack: HubStack, tokens: dict[str, str]) -> None:
    """A token must give access to Podium as a service (as JupyterHub's HubAuth asks), and an
    admin's token is an admin here only with the hub's admin scope."""
    await ensure_sales(stack, tokens)
    refused = [
        await scoped_token(stack, "admin", ["users:activity!user=admin"]),
        await scoped_token(stack, "alice", ["read:users:name!user=alice"]),
        await scoped_token(stack, "admin", ["access:services!service=test-admin"]),  # another's
    ]
    for token in refused:
        status, error = await call(stack, token, "GET", "/user")
        assert status == 401 and "access:services" in error["message"], error
        assert (await call(stack, token, "POST", "/dashboards", {**SALES, "name": "n"}))[0] == 401
    narrow_admin = await scoped_token(stack, "admin", ["access:services!service=podium"])
    status, me = await call(stack, narrow_admin, "GET", "/user")
    assert status == 200 and me["name"] == "admin" and me["admin"] is False
    assert (await call(stack, narrow_admin, "GET", "/dashboards/alice/sales"))[0] == 404
    status, me = await call(stack, tokens["admin"], "GET", "/user")  # the admin's full token
    assert me["admin"] is True


async def test_viewers_see_a_dashboards_public_face_only(
    stack: HubStack, tokens: dict[str, str]
) -> None:
    """bob may view alice's dashboard, not manage it: no source, command, environment,
    access lists or runner message — in the list and one by one; alice sees everything."""
    await ensure_sales(stack, tokens)
    secret = {"env": {"DB_PASSWORD": "hunter2"}}
    assert (await call(stack, tokens["alice"], "PATCH", "/dashboards/alice/sales", secret))[
        0
    ] == 200
    public = {"owner", "name", "title", "description", "framework", "url", "status"}
    _, one = await call(stack, tokens["bob"], "GET", "/dashboards/alice/sales")
    _, listed = await call(stack, tokens["bob"], "GET", "/dashboards")
    for seen in (one, *[d for d in listed["items"] if d["name"] == "sales"]):
        assert set(seen) == public, seen
        assert "hunter2" not in json.dumps(seen)
    _, mine = await call(stack, tokens["alice"], "GET", "/dashboards/alice/sales")
    assert mine["env"] == {"DB_PASSWORD": "hunter2"} and "source" in mine
