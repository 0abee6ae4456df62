"""The proxy from ``<prefix><owner>/<name>/…`` to the dashboard's runner: HTTP and WebSocket.

Every request is checked with :func:`gateway.access.can_view` (no hub call:
the viewer's model is cached by the auth layer). A stopped dashboard is woken
for any allowed viewer: a browser gets the progress page, other requests a
503 with ``Retry-After``. What crosses to the runner: the request minus
hop-by-hop headers, minus the gateway's own cookies and any ``Authorization``,
minus any ``X-Podium-*`` a client sent; plus the runner credential, the viewer's
name (``X-Podium-User``) and ``X-Forwarded-*``. WebSockets must come from the
page's own origin.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict, CIMultiDictProxy

from gateway import keys
from gateway.access import can_view
from gateway.api import IDENTITY
from gateway.auth import SESSION_COOKIE, STATE_COOKIE, XSRF_COOKIE
from gateway.dashboards import Dashboard
from gateway.errors import NotFound
from gateway.launchers.base import Endpoint
from gateway.pages import progress_page, refusal_page
from runners.guard import CREDENTIAL_HEADER

# Hop-by-hop headers, plus what the gateway sets itself (Host) or must never pass on.
NOT_FORWARDED = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Authorization",
        "Host",
    )
)
WS_HANDSHAKE = frozenset(
    h.lower()
    for h in (
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
    )
)
GATEWAY_COOKIES = frozenset({SESSION_COOKIE, XSRF_COOKIE, STATE_COOKIE})
SMALL_BODY = 64 * 1024


def strip_cookies(header: str) -> str:
    """The Cookie header without the gateway's own cookies."""
    if "podium-" not in header:
        return header  # nothing of ours: pass it as it came (and skip the parse)
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return ""
    kept = [f"{k}={m.coded_value}" for k, m in jar.items() if k not in GATEWAY_COOKIES]
    return "; ".join(kept)


def upstream_headers(
    request: web.Request, endpoint: Endpoint, viewer: str, drop: Iterable[str] = ()
) -> CIMultiDict[str]:
    headers: CIMultiDictProxy[str] = request.headers
    named = {t.strip().lower() for t in headers.get("Connection", "").split(",") if t.strip()}
    skip = NOT_FORWARDED | named | {d.lower() for d in drop}
    out = CIMultiDict(
        (k, v)
        for k, v in headers.items()
        if k.lower() not in skip and not k.lower().startswith("x-podium-") and k.lower() != "cookie"
    )
    cookies = strip_cookies(headers.get("Cookie", ""))
    if cookies:
        out["Cookie"] = cookies
    out["Host"] = request.host
    out[CREDENTIAL_HEADER] = endpoint.credential
    out["X-Podium-User"] = viewer
    forwarded_for = headers.get("X-Forwarded-For")
    peer = request.remote or ""
    out["X-Forwarded-For"] = f"{forwarded_for}, {peer}" if forwarded_for else peer
    out.setdefault("X-Forwarded-Proto", request.scheme)
    out.setdefault("X-Forwarded-Host", request.host)
    return out


def downstream_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    named = {t.strip().lower() for t in headers.get("Connection", "").split(",") if t.strip()}
    skip = (NOT_FORWARDED - {"authorization"}) | named
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in skip)


def same_origin(request: web.Request) -> bool:
    """A WebSocket must come from a page of this site (the proxy chain keeps the Host header)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: scripts with a token have no origin to forge
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("X-Forwarded-Host", request.host)


def wants_page(request: web.Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


async def dashboard_route(request: web.Request) -> web.StreamResponse:
    owner, name = request.match_info["owner"], request.match_info["name"]
    if owner == "_":
        raise NotFound(f"no such page: {request.path}")
    app = request.app
    lifecycle = app[keys.LIFECYCLE]
    config = app[keys.CONFIG]
    user = request[IDENTITY].user
    try:
        dashboard, runtime = await lifecycle.lookup(owner, name)
    except NotFound:
        return refusal_page(404, f"There is no dashboard {owner}/{name}.", config.prefix)
    if not can_view(user, dashboard, public_enabled=app[keys.POLICY].public_enabled):
        if user is None:
            return app[keys.AUTH].login_redirect(request, request.path_qs)
        return refusal_page(
            403,
            f"{html.escape(dashboard.title)} belongs to {html.escape(dashboard.owner)}. "
            f"Ask {html.escape(dashboard.owner)} to share it with you "
            "(by name, or through a hub group).",
            config.prefix,
        )
    if request.match_info.get("slash") == "":
        query = f"?{request.query_string}" if request.query_string else ""
        return web.Response(status=302, headers={"Location": dashboard.url(config.prefix) + query})
    if dashboard.status != "ready" or runtime is None:
        return await wake(request, dashboard)
    lifecycle.touch(dashboard.key)
    endpoint = lifecycle.endpoint(dashboard, runtime)
    viewer = user.name if user else ""
    target = endpoint.base + quote_path(request.raw_path)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        if not same_origin(request):
            return web.Response(status=403, text="403: WebSocket from another site\n")
        return await relay_websocket(request, target, endpoint, viewer)
    return await relay_http(request, target, endpoint, viewer)


def quote_path(raw_path: str) -> str:
    return raw_path if raw_path.startswith("/") else "/" + raw_path


async def wake(request: web.Request, dashboard: Dashboard) -> web.StreamResponse:
    """A dashboard that is not ready: start it (unless it just failed) and say so."""
    lifecycle = request.app[keys.LIFECYCLE]
    prefix = request.app[keys.CONFIG].prefix
    runtime_doc = await request.app[keys.STORE].runtime(dashboard.owner, dashboard.name)
    if dashboard.status in ("stopped", "failed") and (
        dashboard.status == "stopped" or lifecycle.may_retry(runtime_doc)
    ):
        lifecycle.start(dashboard)
    if wants_page(request):
        return progress_page(dashboard, prefix)
    return web.Response(
        status=503, headers={"Retry-After": "2"}, text=f"503: {dashboard.title} is starting\n"
    )


async def relay_http(
    request: web.Request, target: str, endpoint: Endpoint, viewer: str
) -> web.StreamResponse:
    client = request.app[keys.RUNNER_CLIENT]
    body = request.content if request.body_exists else None
    try:
        upstream = await client.request(
            request.method,
            target,
            headers=upstream_headers(request, endpoint, viewer),
            data=body,
            allow_redirects=False,
        )
    except aiohttp.ClientError:
        prefix = request.app[keys.CONFIG].prefix
        return refusal_page(
            502,
            "The dashboard is not answering. It may be restarting: try again in a moment.",
            prefix,
        )
    async with upstream:
        headers = downstream_headers(upstream.headers)
        length = upstream.content_length
        if length is not None and length <= SMALL_BODY:
            return web.Response(
                status=upstream.status,
                reason=upstream.reason,
                headers=headers,
                body=await upstream.read(),
            )
        response = web.StreamResponse(
            status=upstream.status, reason=upstream.reason, headers=headers
        )
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def relay_websocket(
    request: web.Request, target: str, endpoint: Endpoint, viewer: str
) -> web.StreamResponse:
    client = request.app[keys.RUNNER_CLIENT]
    protocols = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    try:
        upstream = await client.ws_connect(
            target,
            headers=upstream_headers(request, endpoint, viewer, drop=WS_HANDSHAKE),
            protocols=protocols,
            autoping=True,
            max_msg_size=0,
            compress=0,
        )
    except aiohttp.WSServerHandshakeError as e:
        return web.Response(
            status=e.status, text=f"{e.status}: the dashboard refused the WebSocket\n"
        )
    except aiohttp.ClientError:
        return web.Response(status=502, text="502: the dashboard is not answering\n")
    chosen = (upstream.protocol,) if upstream.protocol else ()
    viewer_ws = web.WebSocketResponse(protocols=chosen, autoping=True, max_msg_size=0)
    await viewer_ws.prepare(request)
    sockets = request.app[keys.SOCKETS].items
    lifecycle = request.app[keys.LIFECYCLE]
    key = (request.match_info["owner"], request.match_info["name"])
    sockets.add(viewer_ws)
    lifecycle.socket_opened(key)
    try:
        await relay(viewer_ws, upstream)
    finally:
        lifecycle.socket_closed(key)
        sockets.discard(viewer_ws)
        await upstream.close()
    return viewer_ws


def _close_code(code: int | None) -> int:
    if code is None or code == 1005:
        return 1000
    return 1011 if code == 1006 else code


async def _forward(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> int | None:
    while True:
        msg = await source.receive()
        if msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.CLOSE:
            return int(msg.data)
        elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return source.close_code


async def relay(viewer: web.WebSocketResponse, app_ws: aiohttp.ClientWebSocketResponse) -> None:
    """Messages both ways until one side closes; its close code crosses over.

    The direction still reading is cancelled before the other side is closed:
    aiohttp's client would otherwise close with 1000 on its own and lose the code.
    """
    to_app = asyncio.ensure_future(_forward(viewer, app_ws))
    to_viewer = asyncio.ensure_future(_forward(app_ws, viewer))
    try:
        await asyncio.wait((to_app, to_viewer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        finished = [t for t in (to_app, to_viewer) if t.done() and not t.cancelled()]
        for task in (to_app, to_viewer):
            task.cancel()
        await asyncio.gather(to_app, to_viewer, return_exceptions=True)
        first = finished[0] if finished else to_app
        code = first.result() if first in finished and first.exception() is None else None
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse = (
            app_ws if first is to_app else viewer
        )
        await asyncio.shield(sink.close(code=_close_code(code if code is not None else 1006)))


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_route("*", prefix + "{owner}/{name}{slash:/?}", dashboard_route)
    app.router.add_route("*", prefix + "{owner}/{name}/{tail:.*}", dashboard_route)
