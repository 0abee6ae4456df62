"""The guard in process, in front of a real aiohttp upstream: headers, streaming, WebSockets."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from relay.upstream import closes_connection
from runners.contract import CREDENTIAL_HEADER
from runners.guard import Guard, long_poll

pytestmark = pytest.mark.functional

PREFIX = "/dashboards/alice/demo/"
CREDENTIAL = "k" * 32
BIG = 10 * 1024 * 1024
RELEASE = web.AppKey("release", asyncio.Event)
CLOSED_WITH = web.AppKey("closed_with", asyncio.Future)


async def echo_headers(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    closing = request.query.get("close") == "1"
    return web.json_response(
        {"path": request.path_qs, "headers": dict(request.headers), "peer": list(peer or [])},
        headers={"Connection": "close"} if closing else None,
    )


async def download(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    block = b"x" * 65536
    for _ in range(BIG // len(block)):
        await response.write(block)
    await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest()})


async def events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: first\n\n")
    await request.app[RELEASE].wait()
    await response.write(b"data: second\n\n")
    await response.write_eof()
    return response


async def set_cookie(request: web.Request) -> web.Response:
    response = web.Response(text="ok")
    response.set_cookie("viewer", "alice")
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.TEXT:
            if msg.data == "close-4001":
                await ws.close(code=4001, message=b"app says bye")
                break
            await ws.send_str("echo " + msg.data)
        elif msg.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    request.app[CLOSED_WITH].set_result(ws.close_code)
    return ws


@dataclass
class Stack:
    guard: Guard
    upstream: web.Application
    url: str

    @property
    def headers(self) -> dict[str, str]:
        return {CREDENTIAL_HEADER: CREDENTIAL}


def upstream_app(prefix: str) -> web.Application:
    app = web.Application(client_max_size=0)
    app[RELEASE] = asyncio.Event()
    app[CLOSED_WITH] = asyncio.get_running_loop().create_future()
    for path, handler in [
        ("headers", echo_headers),
        ("download", download),
        ("events", events),
        ("cookie", set_cookie),
        ("ws", websocket),
    ]:
        app.router.add_get(prefix + path, handler)
    app.router.add_post(prefix + "upload", upload)
    return app


async def make_stack(strip_prefix: bool = False) -> AsyncIterator[Stack]:
    upstream = upstream_app("/" if strip_prefix else PREFIX)
    async with TestServer(upstream, host="127.0.0.1") as up:
        guard = Guard(prefix=PREFIX, credential=CREDENTIAL)
        guard.upstream = ("127.0.0.1", up.port)
        guard.strip_prefix = strip_prefix
        guard.status.set("ready", "ready")
        port = await guard.start("127.0.0.1", 0)
        try:
            yield Stack(guard, upstream, f"http://127.0.0.1:{port}{PREFIX}")
        finally:
            await guard.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def stack() -> AsyncIterator[Stack]:
    async for s in make_stack():
        yield s


@pytest_asyncio.fixture(loop_scope="session")
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        yield s


async def test_headers_forwarded_but_the_credential(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    sent = {
        **stack.headers,
        "X-Custom": "1",
        "Connection": "keep-alive, X-Drop",
        "X-Drop": "gone",
        "Host": "hub.example.org",
        "Origin": "https://hub.example.org",
    }
    async with client.get(stack.url + "headers?a=1", headers=sent) as r:
        seen = await r.json()
    assert seen["path"] == PREFIX + "headers?a=1"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert CREDENTIAL_HEADER.lower() not in headers
    # Connections are paired one to one, so the gateway's hop headers are the framework's.
    assert headers["x-drop"] == "gone"
    assert headers["x-custom"] == "1"
    assert headers["host"] == "hub.example.org"
    assert headers["origin"] == "https://hub.example.org"


async def test_refusals(stack: Stack, client: aiohttp.ClientSession) -> None:
    async with client.get(stack.url + "headers") as r:
        assert r.status == 403
    async with client.get(stack.url[: -len(PREFIX)] + "/elsewhere/", headers=stack.headers) as r:
        assert r.status == 404
    async with client.get(
        stack.url.rstrip("/") + "?x=1", headers=stack.headers, allow_redirects=False
    ) as r:
        assert r.status == 308
        assert r.headers["Location"] == PREFIX + "?x=1"


async def test_not_ready_is_503_and_health_says_why(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    stack.guard.status.set("starting", "starting streamlit")
    async with client.get(stack.url + "headers", headers=stack.headers) as r:
        assert r.status == 503
        assert r.headers["Retry-After"] == "1"
    async with client.get(stack.url + "_podium/health") as r:
        assert r.status == 503
        assert (await r.json())["reason"] == "starting streamlit"


async def test_health_long_poll_answers_when_the_state_changes(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    stack.guard.status.set("starting", "starting streamlit")
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, stack.guard.status.set, "ready", "ready")
    began = time.monotonic()
    async with client.get(stack.url + "_podium/health?wait=10") as r:
        assert r.status == 200 and (await r.json())["state"] == "ready"
    assert 0.25 < time.monotonic() - began < 5, "answered at the change, not before or at 10 s"
    # Nothing to wait for once ready; a start that does not change answers at the bound.
    async with client.get(stack.url + "_podium/health?wait=10") as r:
        assert r.status == 200
    stack.guard.status.set("starting", "starting streamlit")
    began = time.monotonic()
    async with client.get(stack.url + "_podium/health?wait=0.3") as r:
        assert r.status == 503
    assert 0.25 < time.monotonic() - began < 5
    stack.guard.status.set("ready", "ready")
    assert long_poll(b"/x?a=1&wait=2.5") == 2.5
    assert (
        long_poll(b"/x?wait=999") == 30 and long_poll(b"/x?wait=no") == 0 and long_poll(b"/x") == 0
    )


async def test_large_download_streams(stack: Stack, client: aiohttp.ClientSession) -> None:
    size = 0
    async with client.get(stack.url + "download", headers=stack.headers) as r:
        assert r.status == 200
        async for chunk in r.content.iter_any():
            size += len(chunk)
    assert size == BIG


async def test_large_upload_streams(stack: Stack, client: aiohttp.ClientSession) -> None:
    body = bytes(range(256)) * (BIG // 256)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 100_000):
            yield body[i : i + 100_000]

    async with client.post(stack.url + "upload", data=chunks(), headers=stack.headers) as r:
        assert await r.json() == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


async def test_server_sent_events_are_not_buffered(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    async with client.get(stack.url + "events", headers=stack.headers) as r:
        first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
        assert first == b"data: first\n\n"  # arrived while the upstream still holds the stream open
        stack.upstream[RELEASE].set()
        assert await r.content.read() == b"data: second\n\n"


async def test_cookies_are_not_shared_between_viewers(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    async with client.get(stack.url + "cookie", headers=stack.headers) as r:
        assert "viewer=alice" in r.headers["Set-Cookie"]
    async with client.get(stack.url + "headers", headers=stack.headers) as r:
        assert "Cookie" not in (await r.json())["headers"]


async def test_websocket_relay(stack: Stack, client: aiohttp.ClientSession) -> None:
    ws_url = stack.url.replace("http", "ws", 1) + "ws"
    async with client.ws_connect(ws_url, headers=stack.headers, protocols=["chat.v1"]) as ws:
        assert ws.protocol == "chat.v1"
        await ws.send_str("hello")
        assert await ws.receive_str(timeout=5) == "echo hello"
        await ws.send_bytes(b"\x00\x01\x02")
        assert await ws.receive_bytes(timeout=5) == b"\x02\x01\x00"
        await ws.send_str("close-4001")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == 4001


async def test_websocket_close_from_viewer_reaches_app(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    ws_url = stack.url.replace("http", "ws", 1) + "ws"
    ws = await client.ws_connect(ws_url, headers=stack.headers)
    await ws.send_str("x")
    await ws.receive_str(timeout=5)
    await ws.close(code=4002)
    assert await asyncio.wait_for(stack.upstream[CLOSED_WITH], 5) == 4002


async def test_websocket_refused_by_app_keeps_status(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    ws_url = stack.url.replace("http", "ws", 1) + "no-such-socket"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(ws_url, headers=stack.headers)
    assert refused.value.status == 404


async def test_strip_prefix(client: aiohttp.ClientSession) -> None:
    async for s in make_stack(strip_prefix=True):
        async with client.get(s.url + "headers?q=1", headers=s.headers) as r:
            assert (await r.json())["path"] == "/headers?q=1"


async def test_upstream_down_is_502(stack: Stack, client: aiohttp.ClientSession) -> None:
    stack.guard.upstream = ("127.0.0.1", 9)
    async with client.get(stack.url + "headers", headers=stack.headers) as r:
        assert r.status == 502


class Raw:
    """A raw HTTP/1.1 connection to the guard, to send exactly the bytes a test means."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, stack: Stack) -> Raw:
        port = int(stack.url.split(":")[2].split("/")[0])
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self) -> tuple[int, bytes]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)content-length: (\d+)", head)
        if length:
            return status, await self.reader.readexactly(int(length.group(1)))
        if re.search(rb"(?i)transfer-encoding: chunked", head):
            body = b""
            while size := int((await self.reader.readline()).strip(), 16):
                body += await self.reader.readexactly(size)
                await self.reader.readline()
            await self.reader.readline()
            return status, body
        return status, b""

    async def closed(self) -> bool:
        """Whether the guard closed the connection (it is closed on this side too)."""
        try:
            return await asyncio.wait_for(self.reader.read(), 5) == b""
        finally:
            self.close()

    def close(self) -> None:
        self.writer.close()


def get(path: str, credential: bool = True, extra: str = "") -> bytes:
    cred = f"{CREDENTIAL_HEADER}: {CREDENTIAL}\r\n" if credential else ""
    return f"GET {PREFIX}{path} HTTP/1.1\r\nHost: h\r\n{cred}{extra}\r\n".encode()


async def test_keep_alive_with_bodies_between(stack: Stack) -> None:
    raw = await Raw.open(stack)
    body = b"x" * 1000
    post = (
        f"POST {PREFIX}upload HTTP/1.1\r\nHost: h\r\n{CREDENTIAL_HEADER}: {CREDENTIAL}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    await raw.send(post + body)
    status, answer = await raw.response()
    assert status == 200 and b'"size": 1000' in answer
    await raw.send(get("headers"))
    assert (await raw.response())[0] == 200
    raw.close()


async def test_pipelined_requests(stack: Stack) -> None:
    raw = await Raw.open(stack)
    await raw.send(get("headers?n=1") + get("headers?n=2"))
    first, second = await raw.response(), await raw.response()
    assert b"n=1" in first[1] and b"n=2" in second[1]
    raw.close()


async def test_every_request_on_a_connection_needs_the_credential(stack: Stack) -> None:
    raw = await Raw.open(stack)
    await raw.send(get("headers") + get("headers", credential=False))
    assert (await raw.response())[0] == 200
    assert (await raw.response())[0] == 403
    assert await raw.closed()


async def test_refused_upgrade_does_not_open_a_tunnel(stack: Stack) -> None:
    """After the app refuses an upgrade, the next bytes are requests again, and checked."""
    upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    upgrade += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    raw = await Raw.open(stack)
    await raw.send(get("no-such-socket", extra=upgrade) + get("headers", credential=False))
    assert (await raw.response())[0] == 404
    assert (await raw.response())[0] == 403
    raw.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
        (b"GET /x HTTP/1.1\r\nX: " + b"a" * 70000, 431),
        (b"GET /x HTTP/3\r\n\r\n", 505),
        (b"GET /x HTTP/1.1\r\n folded: x\r\n\r\n", 400),
    ],
)
async def test_malformed_requests_are_refused(
    stack: Stack, request_bytes: bytes, status: int
) -> None:
    raw = await Raw.open(stack)
    await raw.send(request_bytes)
    assert (await raw.response())[0] == status
    assert await raw.closed()


async def test_silent_connections_are_dropped(stack: Stack) -> None:
    stack.guard.relay.head_timeout = 0.3
    raw = await Raw.open(stack)
    await raw.send(b"GET /dashboards/")
    assert await raw.closed()


async def test_idle_connections_are_dropped_busy_ones_are_not(stack: Stack) -> None:
    stack.guard.relay.head_timeout = stack.guard.relay.idle_timeout = 0.4
    raw = await Raw.open(stack)
    for _ in range(4):  # each response moves the deadline: 4 x 0.2 s outlives one 0.4 s
        await raw.send(get("headers"))
        assert (await raw.response())[0] == 200
        await asyncio.sleep(0.2)
    assert await raw.closed()  # then, idle: closed


async def test_a_bare_line_feed_in_a_head_is_refused(stack: Stack) -> None:
    raw = await Raw.open(stack)
    await raw.send(get("headers", extra="X-A: 1\nX-Injected: 1\r\n"))
    assert (await raw.response())[0] == 400
    assert await raw.closed()


async def test_framework_closing_idle_connections_is_invisible(
    client: aiohttp.ClientSession,
) -> None:
    upstream = upstream_app(PREFIX)
    async with TestServer(upstream, host="127.0.0.1", keepalive_timeout=0.1) as up:
        guard = Guard(prefix=PREFIX, credential=CREDENTIAL)
        guard.upstream = ("127.0.0.1", up.port)
        guard.status.set("ready", "ready")
        port = await guard.start("127.0.0.1", 0)
        try:
            raw = await Raw.open(Stack(guard, upstream, f"http://127.0.0.1:{port}{PREFIX}"))
            for _ in range(3):
                await raw.send(get("headers"))
                assert (await raw.response())[0] == 200
                await asyncio.sleep(0.3)  # the framework drops its idle connection meanwhile
            raw.close()
        finally:
            await guard.stop()


async def test_an_idle_framework_connection_serves_the_next_client(stack: Stack) -> None:
    async def peer_seen(query: str = "") -> list[object]:
        async with (
            aiohttp.ClientSession() as session,  # its own connection, closed after
            session.get(stack.url + "headers" + query, headers=stack.headers) as r,
        ):
            return list((await r.json())["peer"])

    first = await peer_seen()
    await asyncio.sleep(0.1)  # the client's connection has closed: its upstream is parked
    assert await peer_seen() == first, "the framework connection was kept and reused"
    announced = await peer_seen("?close=1")  # the framework says it closes this one
    await asyncio.sleep(0.1)
    assert await peer_seen() != announced


def test_which_responses_end_their_connection() -> None:
    assert closes_connection(b"HTTP/1.1 200 OK\r\nConnection: close")
    assert not closes_connection(b"HTTP/1.1 200 OK\r\nContent-Length: 0")
    assert closes_connection(b"HTTP/1.0 200 OK\r\nContent-Length: 0")
    assert not closes_connection(b"HTTP/1.0 200 OK\r\nConnection: keep-alive")
