"""The REST API under ``<prefix>_/api/``: dashboards, the caller, and the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.domain.access import User, can_create, can_manage, can_view
from gateway.domain.dashboards import Dashboard
from gateway.domain.validation import parse_create, parse_patch, rebuild_needed
from gateway.errors import Forbidden, Invalid, NotFound, TooLarge, Unauthenticated
from gateway.hub.auth import Identity
from gateway.launchers.base import Runtime
from gateway.web.openapi import document
from runners.errors import SpecError
from runners.git import check_resolved_host, url_host
from runners.names import name_problem
from runners.spec import relative_path

IDENTITY = web.RequestKey("identity", Identity)
MAX_LIMIT = 500


def current_user(request: web.Request) -> User | None:
    return request[IDENTITY].user


def signed_in(request: web.Request) -> User:
    user = current_user(request)
    if user is None:
        raise Unauthenticated("log in through the hub, or send 'Authorization: token <hub token>'")
    return user


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


async def visible(request: web.Request, owner: str, name: str) -> Dashboard:
    """The dashboard, if the caller may see it; otherwise 404 (its existence stays private)."""
    dashboard = await request.app[keys.STORE].get(owner, name)
    public = request.app[keys.POLICY].public_enabled
    if not can_view(current_user(request), dashboard, public_enabled=public):
        raise NotFound(f"there is no dashboard {owner}/{name}")
    return dashboard


async def managed(request: web.Request) -> Dashboard:
    user = signed_in(request)
    dashboard = await visible(request, request.match_info["owner"], request.match_info["name"])
    if not can_manage(user, dashboard):
        raise Forbidden(f"only {dashboard.owner} and admins may change this dashboard")
    return dashboard


async def check_groups(request: web.Request, dashboard: Dashboard) -> None:
    wanted = set(dashboard.access.groups)
    if not wanted:
        return
    unknown = sorted(wanted - await request.app[keys.HUB].groups())
    if unknown:
        raise Invalid(f"no such hub group: {', '.join(unknown)}", field="access.groups")


async def list_dashboards(request: web.Request) -> web.Response:
    user = current_user(request)
    public = request.app[keys.POLICY].public_enabled
    query = request.query
    try:
        offset = max(0, int(query.get("offset", 0)))
        limit = min(MAX_LIMIT, max(1, int(query.get("limit", 100))))
    except ValueError:
        raise Invalid("offset and limit must be whole numbers") from None
    found = [
        d
        for d in await request.app[keys.STORE].list(owner=query.get("owner") or None)
        if can_view(user, d, public_enabled=public)
        and (not query.get("framework") or d.framework == query["framework"])
    ]
    return web.json_response(
        {
            "items": [face(request, d) for d in found[offset : offset + limit]],
            "total": len(found),
            "offset": offset,
            "limit": limit,
        }
    )


def check_can_create(request: web.Request, user: User) -> None:
    groups = request.app[keys.CONFIG].creator_groups
    if not can_create(user, groups):
        raise Forbidden(f"creating dashboards is limited to members of: {', '.join(groups)}")
    problem = name_problem(user.name)
    if problem is not None:  # "." or "..": valid to older hubs, a path that climbs to us
        raise Forbidden(
            f"dashboards cannot be published as {user.name!r}: {problem}. "
            "A hub admin can rename the account."
        )


async def check_git_host(request: web.Request, dashboard: Dashboard) -> None:
    """A git host must not resolve to an internal address (the runner checks again)."""
    if dashboard.source.type != "git":
        return
    allowed = request.app[keys.POLICY].git_internal
    try:
        await check_resolved_host(url_host(dashboard.source.url), allowed, strict=False)
    except SpecError as e:
        raise Invalid(e.message, field="source.url") from None


async def create(request: web.Request, user: User, doc: Any) -> Dashboard:
    """Validate and store a new dashboard (the API and the form both come here)."""
    check_can_create(request, user)
    dashboard = parse_create(doc, user.name, request.app[keys.POLICY], admin=user.admin)
    await check_groups(request, dashboard)
    await check_git_host(request, dashboard)
    if not user.admin:
        owned = await request.app[keys.STORE].list(owner=user.name)
        request.app[keys.QUOTAS].check_create(user.name, owned)
    return await request.app[keys.STORE].create(dashboard)


async def change(request: web.Request, user: User, current: Dashboard, doc: Any) -> Dashboard:
    """Validate and store an edit; a running dashboard whose code changed is rebuilt."""
    changed = parse_patch(doc, current, request.app[keys.POLICY], admin=user.admin)
    if changed.access.groups != current.access.groups:
        await check_groups(request, changed)
    if changed.source != current.source:
        await check_git_host(request, changed)
    await request.app[keys.STORE].update(changed)
    lifecycle = request.app[keys.LIFECYCLE]
    lifecycle.reads.forget(changed.key)
    if rebuild_needed(current, changed) and current.status in ("starting", "ready"):
        # What runs changed: rebuild (a git source is fetched again, a clone made again).
        await lifecycle.restart(changed, rebuild=True)
    return changed


async def remove(request: web.Request, dashboard: Dashboard) -> None:
    await request.app[keys.LIFECYCLE].delete(dashboard)
    await request.app[keys.STORE].delete(dashboard.owner, dashboard.name)
    request.app[keys.LIFECYCLE].reads.forget(dashboard.key)


async def create_dashboard(request: web.Request) -> web.Response:
    user = signed_in(request)
    dashboard = await create(request, user, await read_json(request))
    response = _json(request, dashboard, status=201)
    prefix = request.app[keys.CONFIG].prefix
    response.headers["Location"] = f"{prefix}_/api/dashboards/{dashboard.path}"
    return response


async def get_dashboard(request: web.Request) -> web.Response:
    return _json(
        request, await visible(request, request.match_info["owner"], request.match_info["name"])
    )


async def patch_dashboard(request: web.Request) -> web.Response:
    current = await managed(request)
    changed = await change(request, signed_in(request), current, await read_json(request))
    return _json(request, changed)


async def delete_dashboard(request: web.Request) -> web.Response:
    await remove(request, await managed(request))
    return web.Response(status=204)


async def check_start_quota(request: web.Request, dashboard: Dashboard, admin: bool) -> None:
    """Before a start: the owner's running dashboards and starts per hour (admins exempt)."""
    if admin:
        return
    owned = await request.app[keys.STORE].list(owner=dashboard.owner)
    request.app[keys.QUOTAS].check_start(dashboard.owner, owned)


async def start(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    if dashboard.status not in ("starting", "ready"):
        await check_start_quota(request, dashboard, signed_in(request).admin)
        request.app[keys.LIFECYCLE].start(dashboard)
    return web.json_response(
        {"status": "starting" if dashboard.status != "ready" else "ready"}, status=202
    )


async def stop(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    await request.app[keys.LIFECYCLE].stop(dashboard)
    return web.json_response({"status": "stopped"})


async def restart(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    await request.app[keys.LIFECYCLE].restart(dashboard)
    return web.json_response({"status": "starting"}, status=202)


async def logs(request: web.Request) -> web.Response:
    dashboard = await managed(request)
    try:
        lines = min(5000, max(1, int(request.query.get("lines", 200))))
    except ValueError:
        raise Invalid("lines must be a whole number") from None
    runtime = Runtime.from_json(
        await request.app[keys.STORE].runtime(dashboard.owner, dashboard.name)
    )
    found = await request.app[keys.LAUNCHER].logs(dashboard, runtime, lines)
    return web.json_response({"lines": found})


async def events(request: web.Request) -> web.StreamResponse:
    """The start's progress as server-sent events, for anyone who may view the dashboard."""
    dashboard = await visible(request, request.match_info["owner"], request.match_info["name"])
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    async for step in request.app[keys.LIFECYCLE].progress(dashboard):
        payload = {"status": step.status, "message": step.message, "elapsed": step.elapsed}
        await response.write(f"data: {json.dumps(payload)}\n\n".encode())
    await response.write_eof()
    return response


async def files(request: web.Request) -> web.Response:
    """The caller's storage at ``path``: folders and notebooks/scripts (the form's picker)."""
    user = signed_in(request)
    path = request.query.get("path", "")
    try:
        path = relative_path(path, "path")
    except SpecError as e:
        raise Invalid(e.message, field="path") from None
    found = await request.app[keys.LAUNCHER].browse(user.name, path)
    if found is None:
        raise NotFound(
            "this hub's runners read storage the gateway cannot see: type the folder and file"
        )
    return web.json_response({"path": path, "entries": [e.as_json() for e in found]})


async def me(request: web.Request) -> web.Response:
    user = signed_in(request)
    config = request.app[keys.CONFIG]
    return web.json_response(
        {
            "name": user.name,
            "admin": user.admin,
            "groups": sorted(user.groups),
            "can_create": can_create(user, config.creator_groups),
        }
    )


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
    app.router.add_get(base + "/files", files)
    app.router.add_get(base + "/openapi.json", openapi)
