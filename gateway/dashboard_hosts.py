"""What the gateway's application answers on dashboard origins, and how a viewer gets there.

With ``c.Podium.dashboard_origin`` set (gateway.origins), a dashboard's bytes are
served only on its own origin. On such an origin the application answers just
two things: the sign-in (a code from the gateway becomes the dashboard's cookie,
gateway.handoff), and directions back to the shareable link on the gateway's
origin for whatever the front door could not forward (a viewer not signed in
there, a dashboard asleep): the gateway's origin logs people in, wakes
dashboards with its progress page, and refuses with its pages. No page, API,
static file or XSRF value of the gateway is served on a dashboard origin.

The host is the ``Host`` header only: a page script can set ``X-Forwarded-Host``
on its own requests, not ``Host``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from gateway import keys
from gateway.access import can_view
from gateway.auth import redirect
from gateway.dashboards import Dashboard
from gateway.errors import NotFound
from gateway.handoff import DASHBOARD_COOKIE, SIGNIN
from runners.names import UnusableName, owner_from_segment, owner_segment

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def dashboard_of(path: str, prefix: str) -> tuple[str, str] | None:
    """``(owner, name)`` of a raw path inside a dashboard (``<prefix><owner>/<name>/…``),
    however the owner is spelt (runners.names)."""
    found = dashboard_path(path, prefix)
    if found is None:
        return None
    try:
        return owner_from_segment(found[0]), found[1]
    except UnusableName:
        return None


def dashboard_path(path: str, prefix: str) -> tuple[str, str] | None:
    """The owner and name segments of a raw dashboard path, as they are spelled in it."""
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/", 2)
    if len(parts) < 3 or parts[0] in ("", "_") or not parts[1]:
        return None
    return parts[0], parts[1]


def _text(status: int, message: str, **headers: str) -> web.Response:
    return web.Response(
        status=status, text=f"{status}: {message}\n", headers={**PRIVATE, **headers}
    )


@web.middleware
async def dashboard_hosts(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On a dashboard origin, the sign-in and directions only; elsewhere, the application."""
    origins = request.app[keys.ORIGINS]
    host = request.headers.get("Host", "")
    config = request.app[keys.CONFIG]
    if origins.host_label(host) is None:
        if (
            origins.isolated
            and host.lower() not in request.app[keys.GATEWAY_HOSTS]
            and request.path != config.prefix + "_/health"  # probes use any address
        ):
            # Another name for this machine (in the demo the hub's proxy answers any Host,
            # e.g. a dashboard's name on the hub's port, where its script sets cookies).
            return _text(404, "this host is neither the hub's nor a dashboard's")
        return await handler(request)
    if request.path == config.prefix + SIGNIN:
        return await signin(request, host)
    key = dashboard_of(request.raw_path, config.prefix)
    if key is None or not origins.serves(host, *key):
        return _text(404, "there is nothing here but the dashboard")
    if request.method in ("GET", "HEAD") and request.headers.get("Upgrade") is None:
        # The gateway's origin signs in, wakes and refuses; then it sends the viewer back.
        return redirect(config.public_url + request.raw_path)
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != f"{origins.scheme}://{host}".lower():
        return _text(403, "WebSocket from another site")  # the front door forwards no other
    try:
        dashboard, _ = await request.app[keys.LIFECYCLE].reads.lookup(*key)
    except NotFound:
        return _text(404, f"there is no dashboard {key[0]}/{key[1]}")
    identity = await request.app[keys.AUTH].identify_by(
        request.headers.get("Authorization", ""),
        request.cookies.get(DASHBOARD_COOKIE),
        f"{key[0]}/{key[1]}",
    )
    public_enabled = request.app[keys.POLICY].public_enabled
    if not can_view(identity.user, dashboard, public_enabled=public_enabled):
        return _text(403, "sign in at the dashboard's link first")
    return _text(503, f"{dashboard.title} is not running; open its link", **{"Retry-After": "2"})


async def signin(request: web.Request, host: str) -> web.Response:
    """``<prefix>_/signin?code=…&next=<path>``: the code becomes the dashboard's cookie."""
    config = request.app[keys.CONFIG]
    origins = request.app[keys.ORIGINS]
    next_path = request.query.get("next", "")
    key = dashboard_of(next_path, config.prefix) if next_path.startswith("/") else None
    if key is None or next_path.startswith("//") or not origins.serves(host, *key):
        return _text(400, "this sign-in is not for this dashboard")
    redeemed = request.app[keys.HANDOFF].redeem(request.query.get("code", ""), *key)
    if redeemed is None:
        link = config.public_url + next_path
        return _text(403, f"this sign-in link was used already or has expired; open {link}")
    cookie, expires = redeemed
    owner_segment, name = dashboard_path(next_path, config.prefix) or key
    response = redirect(next_path)
    response.headers.update(PRIVATE)
    response.set_cookie(
        DASHBOARD_COOKIE,
        cookie,
        max_age=max(0, int(expires - time.time())),
        # One origin per dashboard: the whole host. One shared origin: that dashboard's path.
        path="/" if origins.per_dashboard else f"{config.prefix}{owner_segment}/{name}/",
        httponly=True,
        secure=origins.scheme == "https",
        samesite="Lax",
    )
    return response


def crossing(request: web.Request, dashboard: Dashboard) -> web.Response:
    """On the gateway's origin, a viewer allowed to see a ready ``dashboard``: on to its
    origin, with a sign-in code when they are signed in (a public dashboard needs none)."""
    origin = request.app[keys.ORIGINS].origin(dashboard.owner, dashboard.name)
    prefix = request.app[keys.CONFIG].prefix
    spelt = dashboard_path(request.raw_path, prefix)
    rest = request.raw_path[len(prefix) + len(spelt[0]) :] if spelt else "/"
    path = prefix + owner_segment(dashboard.owner) + rest  # as every link spells it
    session = request.app[keys.AUTH].session_claims(request)
    if session is None:
        return redirect(origin + path)
    code = request.app[keys.HANDOFF].code(
        str(session["sub"]), dashboard.owner, dashboard.name, session
    )
    signin = request.app[keys.CONFIG].prefix + SIGNIN
    response = redirect(f"{origin}{signin}?{urlencode({'code': code, 'next': path})}")
    response.headers.update(PRIVATE)
    return response
