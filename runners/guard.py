"""The guard: the runner's only public listener, a thin streaming proxy to the framework.

It refuses every request that lacks the per-launch credential the gateway
sends (``X-Podium-Credential``), removes that header before forwarding, and
answers ``<prefix>_podium/health`` itself. Bodies stream both ways; WebSockets
are relayed message by message with their close codes and subprotocols.
``Host`` and ``Origin`` pass through unchanged so the framework builds the
public links and its same-origin checks compare the public values.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict, CIMultiDictProxy

CREDENTIAL_HEADER = "X-Podium-Credential"
HEALTH_PATH = "_podium/health"
# Bodies up to this size are read whole and sent in one write; larger ones stream.
SMALL_BODY = 64 * 1024

_HOP_BY_HOP = frozenset(
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
        CREDENTIAL_HEADER,
    )
)
_WS_HANDSHAKE = frozenset(
    h.lower()
    for h in (
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
    )
)
_CLIENT_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


@dataclass
class Status:
    """What the health endpoint reports: one of preparing, starting, ready, stopping, failed."""

    state: str = "preparing"
    reason: str = "preparing the source"
    since: float = field(default_factory=time.monotonic)

    def set(self, state: str, reason: str) -> None:
        self.state, self.reason, self.since = state, reason, time.monotonic()


def forward_headers(headers: CIMultiDictProxy[str], drop: Iterable[str] = ()) -> CIMultiDict[str]:
    """Copy request or response headers minus hop-by-hop ones and those named in Connection."""
    named = {t.strip().lower() for t in headers.get("Connection", "").split(",") if t.strip()}
    skip = _HOP_BY_HOP | named | {d.lower() for d in drop}
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in skip)


def credential_ok(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def _close_code(code: int | None) -> int:
    # 1005 (no code) and 1006 (abnormal) may not be sent on the wire.
    if code is None or code == 1005:
        return 1000
    return 1011 if code == 1006 else code


class Guard:
    """Holds the upstream address and serves the guard's aiohttp application."""

    def __init__(self, *, prefix: str, credential: str) -> None:
        self.prefix = prefix
        self.credential = credential
        self.status = Status()
        self.upstream = ""  # http://127.0.0.1:<port>, set when the framework starts
        self.strip_prefix = False
        self.rewrites: Mapping[str, str] = {}
        self._session: aiohttp.ClientSession | None = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=0, handler_args={"max_field_size": 65536})
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.cleanup_ctx.append(self._client_session)
        app.on_shutdown.append(self._close_websockets)
        return app

    async def _client_session(self, app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, enable_cleanup_closed=False)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # never keep one viewer's cookies for another
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            skip_auto_headers=_CLIENT_AUTO_HEADERS,
        )
        yield
        await self._session.close()

    async def _close_websockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"dashboard stopping")

    def health(self) -> web.Response:
        ready = self.status.state == "ready"
        body = {
            "ready": ready,
            "state": self.status.state,
            "reason": self.status.reason,
            "seconds": round(time.monotonic() - self.status.since, 1),
        }
        return web.json_response(body, status=200 if ready else 503)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == self.prefix + HEALTH_PATH:
            return self.health()
        if not credential_ok(request.headers.get(CREDENTIAL_HEADER), self.credential):
            return web.Response(
                status=403, text="403 Forbidden: this runner only answers its gateway\n"
            )
        if path == self.prefix[:-1]:
            location = self.prefix + (f"?{request.query_string}" if request.query_string else "")
            raise web.HTTPPermanentRedirect(location)
        if not path.startswith(self.prefix):
            return web.Response(status=404, text=f"404 Not Found: outside {self.prefix}\n")
        if self.status.state != "ready" or self._session is None:
            return web.Response(
                status=503, headers={"Retry-After": "1"}, text=f"503 {self.status.reason}\n"
            )
        target = request.raw_path
        if path in self.rewrites:
            target = self.rewrites[path]
        elif self.strip_prefix:
            target = "/" + target[len(self.prefix) :]
        url = self.upstream + target
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._relay_websocket(request, url)
        return await self._relay_http(request, url)

    async def _relay_http(self, request: web.Request, url: str) -> web.StreamResponse:
        assert self._session is not None
        body = request.content if request.body_exists else None
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=forward_headers(request.headers),
                data=body,
                allow_redirects=False,
                compress=None,
            )
        except aiohttp.ClientError as e:
            return web.Response(
                status=502, text=f"502 Bad Gateway: the framework did not answer ({e})\n"
            )
        async with upstream:
            headers = forward_headers(upstream.headers)
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

    async def _relay_websocket(self, request: web.Request, url: str) -> web.StreamResponse:
        assert self._session is not None
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        try:
            upstream = await self._session.ws_connect(
                url,
                headers=forward_headers(request.headers, drop=_WS_HANDSHAKE),
                protocols=protocols,
                autoping=True,
                max_msg_size=0,
                compress=0,
            )
        except aiohttp.WSServerHandshakeError as e:
            return web.Response(status=e.status, text=f"{e.status} WebSocket refused by the app\n")
        except aiohttp.ClientError as e:
            return web.Response(
                status=502, text=f"502 Bad Gateway: the framework did not answer ({e})\n"
            )
        chosen = (upstream.protocol,) if upstream.protocol else ()
        client = web.WebSocketResponse(
            protocols=chosen, autoping=True, max_msg_size=0, compress=False
        )
        await client.prepare(request)
        self._sockets.add(client)
        try:
            await relay_websockets(client, upstream)
        finally:
            await upstream.close()
        return client


async def _forward(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> int | None:
    """Copy messages until ``source`` closes; return the close code it sent."""
    while True:
        msg = await source.receive()
        if msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.CLOSE:
            return int(msg.data)  # the peer's own code; close_code changes with the reply
        elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return source.close_code


async def relay_websockets(
    client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    """Relay messages both ways until either side closes; the close code crosses over.

    The direction still reading is cancelled *before* the other side is closed:
    aiohttp's client closes with 1000 on its own if a close() races a pending
    receive(), which would lose the viewer's close code.
    """
    to_app = asyncio.ensure_future(_forward(client, upstream))
    to_viewer = asyncio.ensure_future(_forward(upstream, client))
    try:
        await asyncio.wait((to_app, to_viewer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also runs when aiohttp cancels the handler because the viewer's connection closed.
        finished = [t for t in (to_app, to_viewer) if t.done() and not t.cancelled()]
        for task in (to_app, to_viewer):
            task.cancel()
        await asyncio.gather(to_app, to_viewer, return_exceptions=True)
        first = finished[0] if finished else to_app
        code = first.result() if first in finished and first.exception() is None else None
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse = (
            upstream if first is to_app else client
        )
        await asyncio.shield(sink.close(code=_close_code(code if code is not None else 1006)))
