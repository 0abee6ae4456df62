"""Share links over HTTP: the owner's API (make, list, revoke) and the link itself.

``<prefix>_/share/<token>`` checks the link, gives its bearer a pass for that one dashboard
(gateway.front.passes) and sends them to it. Where dashboards have origins of their own the
link is on the dashboard's origin, so the pass is set there and nowhere else. A refused
link says why in a page: not valid (a mistyped or forged token), revoked, expired.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.domain.dashboards import Dashboard
from gateway.domain.shares import ShareLink, parse_link
from gateway.errors import Forbidden, Invalid, NotFound
from gateway.front.passes import SHARE_COOKIE
from gateway.hub.requests import redirect
from gateway.web.api import IDENTITY, managed, read_json, signed_in
from gateway.web.pages import refusal_page

SHARE_PATH = "_/share/"
MAX_TOKEN = 64


def share_url(request: web.Request, dashboard: Dashboard, token: str) -> str:
    """The link to give out: on the dashboard's own origin where it has one."""
    app = request.app
    prefix, origins = app[keys.CONFIG].prefix, app[keys.ORIGINS]
    base = origins.origin(*dashboard.key) if origins.isolated else app[keys.CONFIG].public_url
    return f"{base}{prefix}{SHARE_PATH}{token}"


def _allowed(request: web.Request) -> None:
    if not request.app[keys.CONFIG].share_links:
        raise Forbidden("this hub does not allow share links (c.Podium.share_links)")


async def list_links(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    found = await request.app[keys.SHARES].of(*dashboard.key)
    return web.json_response({"items": [link.as_json() for link in found]})


async def create_link(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    signed_in(request)
    _allowed(request)
    note, expires = parse_link(
        await read_json(request), request.app[keys.CONFIG].share_link_max_days
    )
    link, token = await request.app[keys.SHARES].create(*dashboard.key, note, expires)
    # The only answer that holds the token: the store keeps its hash.
    body = {**link.as_json(), "url": share_url(request, dashboard, token)}
    return web.json_response(body, status=201, headers={"Cache-Control": "no-store"})


async def revoke_link(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    link_id = request.match_info["link"]
    await request.app[keys.SHARES].revoke(*dashboard.key, link_id)
    request.app[keys.PASSES].forget(link_id)  # its passes stop here at once
    return web.Response(status=204)


def _refused(request: web.Request, status: int, message: str, hint: str) -> web.Response:
    who = request.get(IDENTITY)  # none yet on a dashboard's origin (before the middleware)
    return refusal_page(request.app[keys.SITE], status, message, hint=hint,
                        user=who.user if who is not None else None)  # fmt: skip


async def visit(request: web.Request) -> web.StreamResponse:
    """Someone opened a share link."""
    app = request.app
    token = request.match_info["token"]
    ask = "Ask whoever sent it for a new link."
    if not app[keys.CONFIG].share_links:
        return _refused(request, 404, "Share links are turned off on this hub.", ask)
    link = await app[keys.SHARES].by_token(token) if len(token) <= MAX_TOKEN else None
    if link is None:
        return _refused(request, 404, "This share link is not valid.",
                        "Check that you have the whole link. " + ask)  # fmt: skip
    if link.state() == "revoked":
        return _refused(request, 410, "This share link was revoked by its owner.", ask)
    if link.state() == "expired":
        return _refused(request, 410, f"This share link expired on {_day(link.expires)}.", ask)
    try:
        dashboard, _ = await app[keys.SERVICE].reads.lookup(*link.key)
    except NotFound:
        return _refused(request, 404, "The dashboard of this link no longer exists.", ask)
    if link.created < dashboard.created.timestamp():  # a deleted namesake's link
        return _refused(request, 404, "The dashboard of this link no longer exists.", ask)
    origins = app[keys.ORIGINS]
    if origins.isolated and not origins.serves(request.headers.get("Host", ""), *link.key):
        return redirect(origins.origin(*link.key) + request.raw_path)  # the pass goes there
    return await _give_pass(request, link, dashboard)


async def _give_pass(request: web.Request, link: ShareLink, dashboard: Dashboard) -> web.Response:
    app = request.app
    url = dashboard.url(app[keys.CONFIG].prefix)
    name = app[keys.ORIGINS].cookie(SHARE_COOKIE)
    response = redirect(url)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of Referer
    await app[keys.SHARES].viewed(link.id)  # each opening of the link
    # On an origin of the dashboard's own, the whole host is its (and a __Host- cookie
    # must have Path=/); on one shared by all, its path.
    path = "/" if app[keys.ORIGINS].per_dashboard else url
    response.set_cookie(
        name, app[keys.PASSES].issue(link), path=path, httponly=True, samesite="Lax",
        secure=app[keys.AUTH].secure(request), max_age=max(1, int(link.expires - time.time())),
    )  # fmt: skip
    return response


def may_wake(request: web.Request) -> bool:
    """A person opening the dashboard, or a script: not the background requests of a page
    left open (a framework reconnecting its WebSocket after the owner stopped it must not
    start it again)."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    return mode is None or mode == "navigate"


async def shared_wait(request: web.Request, dashboard: Dashboard) -> web.Response | None:
    """For a share link's bearer at a dashboard that is not ready: wake it and say so (the
    page reloads itself until the front door forwards). ``None`` without a valid pass."""
    app = request.app
    held = request.cookies.get(app[keys.ORIGINS].cookie(SHARE_COOKIE))
    if not held or not await app[keys.PASSES].check(held, dashboard.key):
        return None
    if may_wake(request):  # a person opening it; not a tab left open, reconnecting
        owner = await app[keys.AUTH].user_named(dashboard.owner)
        await app[keys.SERVICE].wake(dashboard, exempt=owner is not None and owner.admin)
    return _refused(request, 503, f"“{dashboard.title or dashboard.name}” is starting.",
                    "This page opens it by itself when it is ready.")  # fmt: skip


# --- the manage page's section -------------------------------------------------------------
async def page_links(request: web.Request, dashboard: Dashboard) -> dict[str, Any]:
    """What the manage page shows of the dashboard's share links."""
    config = request.app[keys.CONFIG]
    found = await request.app[keys.SHARES].of(*dashboard.key)
    rows = [{**link.as_json(), "expires_day": _day(link.expires)} for link in found]
    return {"share_enabled": config.share_links, "share_links": rows,
            "share_max_days": config.share_link_max_days}  # fmt: skip


async def page_action(
    request: web.Request, dashboard: Dashboard, action: str, form: Mapping[str, Any]
) -> str:
    """The manage page's share (answers the new link) and unshare (answers "") buttons."""
    if action == "unshare":
        link_id = str(form.get("link", ""))
        await request.app[keys.SHARES].revoke(*dashboard.key, link_id)
        request.app[keys.PASSES].forget(link_id)
        return ""
    _allowed(request)
    raw = str(form.get("days", "")).strip()
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise Invalid("days must be a whole number of at least 1", field="days")
    doc = {"days": int(raw), "note": str(form.get("note", ""))}
    note, expires = parse_link(doc, request.app[keys.CONFIG].share_link_max_days)
    _, token = await request.app[keys.SHARES].create(*dashboard.key, note, expires)
    return share_url(request, dashboard, token)


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")


def add_routes(app: web.Application, prefix: str) -> None:
    one = prefix + "_/api/dashboards/{owner}/{name}/links"
    app.router.add_get(one, list_links)
    app.router.add_post(one, create_link)
    app.router.add_delete(one + "/{link}", revoke_link)
    app.router.add_get(prefix + SHARE_PATH + "{token}", visit)
