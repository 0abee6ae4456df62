"""What the gateway's application answers on dashboard origins, and how a viewer gets there.

With ``c.Podium.dashboard_origin`` set (gateway.front.origins), a dashboard's bytes are
served only on its own origin. On such an origin the application answers just
two things: the sign-in (a code from the gateway becomes the dashboard's cookie in
the browser that asked for it, gateway.front.handoff), and directions back to the
shareable link on the gateway's origin for whatever the front door could not
forward (a viewer not signed in there, a dashboard asleep): the gateway's origin
logs people in, wakes dashboards with its progress page, and refuses with its
pages. No page, API, static file or XSRF value of the gateway is served on a
dashboard origin.

The host is the ``Host`` header only: a page script can set ``X-Forwarded-Host``
on its own requests, not ``Host``.

One value per cookie name: a second ``podium-session`` or ``podium-dashboard`` is
one planted beside the viewer's (a page's script can set one with a longer path,
a sibling host one for the parent domain) to sign them in as someone else. Such
requests are refused, and the planted copies deleted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

from gateway import keys
from gateway.domain.access import can_view
from gateway.domain.dashboards import Dashboard
from gateway.errors import NotFound, Unauthenticated
from gateway.front.handoff import (
    CODE_PATH,
    DASHBOARD_COOKIE,
    SIGNIN,
    START,
    STATE_COOKIE,
    STATE_SECONDS,
    new_nonce,
    nonces_with,
    state_of,
)
from gateway.hub.auth import SESSION_COOKIE
from gateway.hub.requests import cookies_sent, redirect
from gateway.web.api import IDENTITY
from gateway.web.shares import SHARE_PATH, shared_wait
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
            and request.path not in (config.prefix + "_/health", config.prefix + "_/metrics")
        ):
            # Another name for this machine (probes and scrapers excepted: any address). In
            # the demo the hub's proxy answers any Host, e.g. a dashboard's name on the hub's
            # port, where its script sets cookies.
            return _text(404, "this host is neither the hub's nor a dashboard's")
        if len(cookies_sent(request, SESSION_COOKIE)) > 1:
            return planted(request, SESSION_COOKIE, config.prefix)
        return await handler(request)
    if request.path == config.prefix + START:
        return start(request, host)
    if request.path == config.prefix + SIGNIN:
        return signin(request, host)
    if request.path.startswith(config.prefix + SHARE_PATH):
        return await handler(request)  # a share link, on its dashboard's origin
    key = dashboard_of(request.raw_path, config.prefix)
    if key is None or not origins.serves(host, *key):
        return _text(404, "there is nothing here but the dashboard")
    cookie_name = origins.cookie(DASHBOARD_COOKIE)
    cookies = cookies_sent(request, cookie_name)
    if len(cookies) > 1:
        return planted(request, cookie_name, cookie_path(request, *key))
    if request.method in ("GET", "HEAD") and request.headers.get("Upgrade") is None:
        with contextlib.suppress(NotFound):  # a share link's bearer is woken here
            found, _ = await request.app[keys.SERVICE].reads.lookup(*key)
            shared = await shared_wait(request, found)
            if shared is not None:
                return shared
        # The gateway's origin signs in, wakes and refuses; then it sends the viewer back.
        return redirect(config.public_url + request.raw_path)
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != f"{origins.scheme}://{host}".lower():
        return _text(403, "WebSocket from another site")  # the front door forwards no other
    try:
        dashboard, _ = await request.app[keys.SERVICE].reads.lookup(*key)
    except NotFound:
        return _text(404, f"there is no dashboard {key[0]}/{key[1]}")
    identity = await request.app[keys.AUTH].identify_by(
        request.headers.get("Authorization", ""),
        cookies[0] if cookies else None,
        f"{key[0]}/{key[1]}",
    )
    public_enabled = request.app[keys.RULES].public_enabled
    if not can_view(identity.user, dashboard, public_enabled=public_enabled):
        return _text(403, "sign in at the dashboard's link first")
    return _text(503, f"{dashboard.title} is not running; open its link", **{"Retry-After": "2"})


def cookie_path(request: web.Request, owner: str, name: str) -> str:
    """Where a dashboard's cookie lives: the whole host of a dashboard's own origin; the
    dashboard's path on one origin shared by all (as every link spells it)."""
    prefix = request.app[keys.CONFIG].prefix
    if request.app[keys.ORIGINS].per_dashboard:
        return "/"
    return f"{prefix}{owner_segment(owner)}/{name}/"


def planted(request: web.Request, name: str, kept_path: str) -> web.Response:
    """400 for a request with two cookies ``name``, deleting every copy but the one Podium
    sets (host-only, at ``kept_path``): each path above this request's and each parent
    domain of its host could hold the planted one. Deleting the viewer's own instead
    would leave the planted copy alone, signing them in as its owner."""
    host = request.headers.get("Host", "").rpartition(":")[0] or request.headers.get("Host", "")
    labels = host.lower().rstrip(".").split(".")
    parents = [".".join(labels[i:]) for i in range(1, len(labels))]  # browsers skip TLDs
    segments = request.raw_path.split("?")[0].split("/")[1:-1]
    paths = ["/"] + ["/" + "/".join(segments[: i + 1]) + "/" for i in range(len(segments))]
    paths += [p.rstrip("/") for p in paths if p != "/"]
    response = _text(
        400,
        "your browser sent two Podium sign-in cookies; a page set one to sign you in as "
        "someone else. It is deleted now: open the link again.",
    )
    for path in paths:
        for domain in [None, *parents]:
            if domain is not None or path != kept_path:
                # Headers, not del_cookie: aiohttp keeps one Set-Cookie per name.
                scope = f"; Domain={domain}" if domain else ""
                response.headers.add("Set-Cookie", f"{name}=; Max-Age=0; Path={path}{scope}")
    return response


def state_cookie_path(request: web.Request) -> str:
    """``/`` for a ``__Host-`` cookie (its rule); else just the sign-in paths."""
    origins = request.app[keys.ORIGINS]
    if origins.cookie(STATE_COOKIE) != STATE_COOKIE:
        return "/"
    return request.app[keys.CONFIG].prefix + SIGNIN


def _next_dashboard(request: web.Request, host: str | None) -> tuple[str, tuple[str, str]] | None:
    """The ``next`` path of a sign-in step and its dashboard, when it is one (served on
    ``host``, when given)."""
    next_path = request.query.get("next", "")
    prefix = request.app[keys.CONFIG].prefix
    if not next_path.startswith("/") or next_path.startswith("//"):
        return None
    key = dashboard_of(next_path, prefix)
    if key is None or (host is not None and not request.app[keys.ORIGINS].serves(host, *key)):
        return None
    return next_path, key


def start(request: web.Request, host: str) -> web.Response:
    """``<prefix>_/signin/start?next=<path>`` on a dashboard origin: a nonce kept here,
    its digest sent to the gateway for a code (gateway.front.handoff)."""
    found = _next_dashboard(request, host)
    if found is None:
        return _text(400, "this sign-in is not for this dashboard")
    origins = request.app[keys.ORIGINS]
    name = origins.cookie(STATE_COOKIE)
    sent = cookies_sent(request, name)
    nonce = new_nonce()
    query = urlencode({"state": state_of(nonce), "next": found[0]})
    config = request.app[keys.CONFIG]
    response = redirect(f"{config.public_url}{config.prefix}{CODE_PATH}?{query}")
    response.headers.update(PRIVATE)
    response.set_cookie(
        name,
        nonces_with(sent[-1] if sent else None, nonce),
        max_age=STATE_SECONDS,
        path=state_cookie_path(request),
        httponly=True,
        secure=origins.scheme == "https",
        samesite="Lax",
    )
    return response


async def signin_code(request: web.Request) -> web.Response:
    """``<prefix>_/signin/code?state=…&next=<path>`` on the gateway's origin: a code for the
    signed-in viewer and the browser whose nonce has that digest; on to the dashboard."""
    found = _next_dashboard(request, None)
    state = request.query.get("state", "")
    if found is None or len(state) != 64:
        return _text(400, "this sign-in is not for a dashboard")
    next_path, key = found
    app = request.app
    try:
        dashboard, _ = await app[keys.SERVICE].reads.lookup(*key)
    except NotFound:
        return redirect(app[keys.CONFIG].public_url + next_path)  # its link says so
    user = request[IDENTITY].user
    session = app[keys.AUTH].session_claims(request)
    if user is None or session is None:
        raise Unauthenticated("sign in to open this dashboard")  # then back here
    if not can_view(user, dashboard, public_enabled=app[keys.RULES].public_enabled):
        return redirect(app[keys.CONFIG].public_url + next_path)  # its link refuses
    code = app[keys.HANDOFF].code(str(session["sub"]), *key, session, state)
    origin = app[keys.ORIGINS].origin(*key)
    query = urlencode({"code": code, "next": next_path})
    response = redirect(f"{origin}{app[keys.CONFIG].prefix}{SIGNIN}?{query}")
    response.headers.update(PRIVATE)
    return response


def signin(request: web.Request, host: str) -> web.Response:
    """``<prefix>_/signin?code=…&next=<path>``: with this browser's nonce, the code becomes
    the dashboard's cookie."""
    config = request.app[keys.CONFIG]
    origins = request.app[keys.ORIGINS]
    found = _next_dashboard(request, host)
    if found is None:
        return _text(400, "this sign-in is not for this dashboard")
    next_path, key = found
    state_name = origins.cookie(STATE_COOKIE)
    nonces = [n for v in cookies_sent(request, state_name) for n in v.split(".") if n]
    redeemed = request.app[keys.HANDOFF].redeem(request.query.get("code", ""), *key, nonces)
    if redeemed is None:
        return _text(
            403,
            "this sign-in link is not valid here: it has expired, was used already, or was "
            f"made for another browser. Open {config.public_url + next_path}",
        )
    cookie, expires, used = redeemed
    response = redirect(next_path)
    response.headers.update(PRIVATE)
    left = [n for n in nonces if n != used]
    if left:
        response.set_cookie(
            state_name, ".".join(left), max_age=STATE_SECONDS, path=state_cookie_path(request),
            httponly=True, secure=origins.scheme == "https", samesite="Lax",
        )  # fmt: skip
    else:
        response.del_cookie(state_name, path=state_cookie_path(request))
    response.set_cookie(
        origins.cookie(DASHBOARD_COOKIE),
        cookie,
        max_age=max(0, int(expires - time.time())),
        path=cookie_path(request, *key),
        httponly=True,
        secure=origins.scheme == "https",
        samesite="Lax",
    )
    return response


def crossing(request: web.Request, dashboard: Dashboard) -> web.Response:
    """On the gateway's origin, a viewer allowed to see a ready ``dashboard``: on to its
    origin, through the sign-in when they are signed in (a public dashboard needs none)."""
    origin = request.app[keys.ORIGINS].origin(dashboard.owner, dashboard.name)
    prefix = request.app[keys.CONFIG].prefix
    spelt = dashboard_path(request.raw_path, prefix)
    rest = request.raw_path[len(prefix) + len(spelt[0]) :] if spelt else "/"
    path = prefix + owner_segment(dashboard.owner) + rest  # as every link spells it
    if request.app[keys.AUTH].session_claims(request) is None:
        return redirect(origin + path)
    response = redirect(f"{origin}{prefix}{START}?{urlencode({'next': path})}")
    response.headers.update(PRIVATE)
    return response
