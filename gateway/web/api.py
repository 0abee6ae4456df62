"""The REST API under ``<prefix>_/api/``: dashboards, the caller, and the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.domain import service
from gateway.domain.access import User, can_create, can_manage
from gateway.domain.dashboards import Dashboard
from gateway.errors import Invalid, NotFound, PodiumError, TooLarge
from gateway.hub.auth import Identity
from gateway.web.openapi import document
from gateway.web.pages import viewers_word
from runners.errors import SpecError
from runners.spec import relative_path

IDENTITY = web.RequestKey("identity", Identity)
MAX_LIMIT = 500


def current_user(request: web.Request) -> User | None:
    return request[IDENTITY].user


def signed_in(request: web.Request) -> User:
    return service.signed_in(current_user(request))


async def read_json(request: web.Request) -> Any:
    limit = request.app[keys.CONFIG].max_body_size
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the request body is over {limit} bytes")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(f"the request body is over {limit} bytes")
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise Invalid("the request body is not valid JSON") from None
    except RecursionError:
        raise Invalid("the request body nests too deeply to be a dashboard") from None


def face(request: web.Request, dashboard: Dashboard) -> dict[str, Any]:
    """The whole document for its managers (owner, admins); the public face for viewers."""
    prefix = request.app[keys.CONFIG].prefix
    if can_manage(current_user(request), dashboard):
        return dashboard.as_json(prefix)
    return dashboard.public_json(prefix)


def _json(request: web.Request, dashboard: Dashboard, status: int = 200) -> web.Response:
    return web.json_response(face(request, dashboard), status=status)


async def visible(request: web.Request) -> Dashboard:
    """The dashboard named in the path, if the caller may see it (404 otherwise)."""
    match = request.match_info
    return await request.app[keys.SERVICE].visible(
        current_user(request), match["owner"], match["name"]
    )


async def managed(request: web.Request) -> Dashboard:
    """The dashboard named in the path, if the caller may change it."""
    match = request.match_info
    return await request.app[keys.SERVICE].managed(
        current_user(request), match["owner"], match["name"]
    )


async def list_dashboards(request: web.Request) -> web.Response:
    query = request.query
    try:
        offset = max(0, int(query.get("offset", 0)))
        limit = min(MAX_LIMIT, max(1, int(query.get("limit", 100))))
    except ValueError:
        raise Invalid("offset and limit must be whole numbers") from None
    found = await request.app[keys.SERVICE].listed(
        current_user(request),
        owner=query.get("owner") or None,
        framework=query.get("framework") or None,
    )
    return web.json_response(
        {
            "items": [face(request, d) for d in found[offset : offset + limit]],
            "total": len(found),
            "offset": offset,
            "limit": limit,
        }
    )


async def create_dashboard(request: web.Request) -> web.Response:
    user = signed_in(request)
    doc = await read_json(request)
    dashboard = await request.app[keys.SERVICE].create(user, doc)
    response = _json(request, dashboard, status=201)
    prefix = request.app[keys.CONFIG].prefix
    response.headers["Location"] = f"{prefix}_/api/dashboards/{dashboard.path}"
    return response


async def get_dashboard(request: web.Request) -> web.Response:
    return _json(request, await visible(request))


async def patch_dashboard(request: web.Request) -> web.Response:
    current = await managed(request)
    doc = await read_json(request)
    changed = await request.app[keys.SERVICE].change(signed_in(request), current, doc)
    return _json(request, changed)


async def delete_dashboard(request: web.Request) -> web.Response:
    await request.app[keys.SERVICE].remove(await managed(request))
    return web.Response(status=204)


async def start(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    status = await request.app[keys.SERVICE].start(dashboard, exempt=signed_in(request).admin)
    return web.json_response({"status": status}, status=202)


async def stop(request: web.Request) -> web.Response:
    await request.app[keys.SERVICE].stop(await managed(request))
    return web.json_response({"status": "stopped"})


async def restart(request: web.Request) -> web.Response:
    await request.app[keys.SERVICE].restart(await managed(request))
    return web.json_response({"status": "starting"}, status=202)


async def logs(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    try:
        lines = min(5000, max(1, int(request.query.get("lines", 200))))
    except ValueError:
        raise Invalid("lines must be a whole number") from None
    return web.json_response({"lines": await request.app[keys.SERVICE].logs(dashboard, lines)})


async def events(request: web.Request) -> web.StreamResponse:
    """The start's progress as server-sent events, for anyone who may view the dashboard."""
    dashboard = await visible(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    manager = can_manage(current_user(request), dashboard)
    async for step in request.app[keys.LIFECYCLE].progress(dashboard):
        message = step.message if manager else viewers_word(step.status, step.message)
        payload = {"status": step.status, "message": message, "elapsed": step.elapsed}
        await response.write(f"data: {json.dumps(payload)}\n\n".encode())
    await response.write_eof()
    return response


async def files(request: web.Request) -> web.Response:
    """The caller's storage at ``path`` (or the shared ``volume``'s): folders and
    notebooks/scripts (the form's picker)."""
    user = signed_in(request)
    path = request.query.get("path", "")
    try:
        path = relative_path(path, "path")
    except SpecError as e:
        raise Invalid(e.message, field="path") from None
    volume = request.query.get("volume", "")
    if volume and volume not in request.app[keys.RULES].shared_volumes:
        raise NotFound(f"this hub shares no volume named {volume!r}")
    found = await request.app[keys.LAUNCHER].browse(user.name, path, volume)
    if found is None:
        raise NotFound(
            "this hub's runners read storage the gateway cannot see: type the folder and file"
        )
    return web.json_response({"path": path, "entries": [e.as_json() for e in found]})


async def me(request: web.Request) -> web.Response:
    user = signed_in(request)
    return web.json_response(
        {
            "name": user.name,
            "admin": user.admin,
            "groups": sorted(user.groups),
            "can_create": can_create(user, request.app[keys.SERVICE].creator_groups),
            # Where browsers reach dashboards' links ("": the address the caller used).
            "public_url": request.app[keys.CONFIG].public_url,
        }
    )


async def groups(request: web.Request) -> web.Response:
    """The hub's groups: what a dashboard may be shared with, as the form offers them."""
    signed_in(request)
    try:
        names = sorted(await request.app[keys.HUB].groups())
    except PodiumError:
        names = []
    return web.json_response({"items": names})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[keys.CONFIG].prefix))


def add_routes(app: web.Application, prefix: str) -> None:
    base = f"{prefix}_/api"
    one = base + "/dashboards/{owner}/{name}"
    app.router.add_get(base + "/dashboards", list_dashboards)
    app.router.add_post(base + "/dashboards", create_dashboard)
    app.router.add_get(one, get_dashboard)
    app.router.add_patch(one, patch_dashboard)
    app.router.add_delete(one, delete_dashboard)
    app.router.add_post(one + "/start", start)
    app.router.add_post(one + "/stop", stop)
    app.router.add_post(one + "/restart", restart)
    app.router.add_get(one + "/logs", logs)
    app.router.add_get(one + "/events", events)
    app.router.add_get(base + "/user", me)
    app.router.add_get(base + "/groups", groups)
    app.router.add_get(base + "/files", files)
    app.router.add_get(base + "/openapi.json", openapi)
