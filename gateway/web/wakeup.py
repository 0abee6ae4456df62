"""Dashboard paths the front door hands to the application: refusals, redirects, wake-ups.

Bytes to and from a running dashboard never come here: the front door
(gateway.front.door) relays them. What does come here is everything it cannot
simply forward: an unknown dashboard (404), a viewer who may not see it
(login for the anonymous, a 403 page naming the owner for the others), the
name without its trailing slash, a WebSocket from another site, and a
dashboard that is not ready — woken when an allowed viewer opens it (not by the
background requests of a page left open): a browser gets the progress page,
other requests a 503 with ``Retry-After`` (those reach here only when the dashboard is
stopped, or still not ready after the front door held them: gateway.front.door).
"""

from __future__ import annotations

from aiohttp import web

from gateway import keys
from gateway.domain.access import can_view
from gateway.domain.dashboards import Dashboard
from gateway.domain.lifecycle import OWNER_GONE
from gateway.errors import Conflict, NotFound, TooMany
from gateway.front.forwarding import same_origin
from gateway.web.api import IDENTITY
from gateway.web.dashboard_hosts import crossing
from gateway.web.pages import forbidden_page, progress_page, refusal_page
from gateway.web.shares import may_wake, shared_wait


def wants_page(request: web.Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


async def dashboard_route(request: web.Request) -> web.StreamResponse:
    owner, name = request.match_info["owner"], request.match_info["name"]
    if owner == "_":
        raise NotFound(f"no such page: {request.path}")
    app = request.app
    config = app[keys.CONFIG]
    user = request[IDENTITY].user
    site = app[keys.SITE]
    try:
        dashboard, _ = await app[keys.SERVICE].reads.lookup(owner, name)
    except NotFound:
        return refusal_page(site, 404, f"There is no dashboard {owner}/{name}.", user=user)
    if not can_view(user, dashboard, public_enabled=app[keys.RULES].public_enabled):
        shared = await shared_wait(request, dashboard)
        if shared is not None:
            return shared  # a share link's bearer: it starts, this page reloads until then
        if user is None:
            return await app[keys.AUTH].login_redirect(request, request.path_qs)
        return forbidden_page(site, dashboard, user)
    if request.match_info.get("slash") == "":
        query = f"?{request.query_string}" if request.query_string else ""
        return web.Response(status=302, headers={"Location": dashboard.url(config.prefix) + query})
    origins = app[keys.ORIGINS]
    if origins.isolated:
        # Served on its own origin only: a page is sent there, nothing else is answered here.
        if request.method != "GET" or request.headers.get("Upgrade"):
            origin = origins.origin(owner, name)
            return web.Response(status=404, text=f"404: this dashboard is served at {origin}\n")
        if dashboard.status == "ready":
            return crossing(request, dashboard)
        return await wake(request, dashboard)
    if request.headers.get("Upgrade", "").lower() == "websocket" and not same_origin(
        request.headers.get("Origin"),
        request.headers.get("X-Forwarded-Host", request.headers.get("Host")),
    ):
        return web.Response(status=403, text="403: WebSocket from another site\n")
    # Not ready; or ready a moment ago, after the front door looked: either way, wait.
    return await wake(request, dashboard)


async def wake(request: web.Request, dashboard: Dashboard) -> web.StreamResponse:
    """A dashboard that is not ready: start it (unless it just failed) and say so."""
    service = request.app[keys.SERVICE]
    if await service.owner_gone(dashboard.owner):
        return refusal_page(
            request.app[keys.SITE], 410,
            f"“{dashboard.title}” is no longer available: {OWNER_GONE}.",
            hint="A hub admin can delete it, or give the account back.",
            user=request[IDENTITY].user,
        )  # fmt: skip
    if may_wake(request) and dashboard.status in ("stopped", "failed"):
        owner = await request.app[keys.AUTH].user_named(dashboard.owner)
        try:
            await service.wake(dashboard, exempt=owner is not None and owner.admin)
        except (Conflict, TooMany) as e:
            return refusal_page(
                request.app[keys.SITE], e.status,
                f"“{dashboard.title}” cannot start right now: {e.message}.",
                hint="Try again later, or ask its owner.", user=request[IDENTITY].user,
            )  # fmt: skip
    if wants_page(request):
        return progress_page(request.app[keys.SITE], dashboard, request[IDENTITY].user)
    return web.Response(
        status=503, headers={"Retry-After": "2"}, text=f"503: {dashboard.title} is starting\n"
    )


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_route("*", prefix + "{owner}/{name}{slash:/?}", dashboard_route)
    app.router.add_route("*", prefix + "{owner}/{name}/{tail:.*}", dashboard_route)
