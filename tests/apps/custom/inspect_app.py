"""An app that shows the tests what reached it: headers, streamed bodies, SSE, WebSockets."""

import argparse
import asyncio
import hashlib
import os

from aiohttp import WSMsgType, web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()
P = args.prefix
BLOCK = b"y" * 65536


async def headers(request: web.Request) -> web.Response:
    """Every header as received, in order (repeated names kept)."""
    return web.json_response({"headers": [[k, v] for k, v in request.headers.items()]})


async def big(request: web.Request) -> web.StreamResponse:
    """10 MB, chunked (no Content-Length): the gateway cannot know the size in advance."""
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(160):
        await response.write(BLOCK)
    await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    digest, size = hashlib.sha256(), 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest()})


async def events(request: web.Request) -> web.StreamResponse:
    """Three server-sent events, 0.3 s apart: each must reach the viewer when sent."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(3):
        await response.write(f"data: tick {i}\n\n".encode())
        await asyncio.sleep(0.3)
    return response


async def cookies(request: web.Request) -> web.Response:
    response = web.Response(text="cookies set")
    response.set_cookie("app-cookie", "1", path=P)
    response.set_cookie("podium-session", "owner-session", path="/")
    response.set_cookie("podium-xsrf", "x", path="/")
    response.set_cookie("jupyterhub-hub-login", "forged", path="/hub/")  # cookie tossing
    response.set_cookie("jupyterhub-session-id", "forged", path="/")
    response.set_cookie("app-wide", "1", path="/", domain="localhost")
    response.headers["Clear-Site-Data"] = '"cookies"'
    return response


async def ws(request: web.Request) -> web.WebSocketResponse:
    """Echo text and binary; ``close <code>`` closes with that code."""
    socket = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"), max_msg_size=0)
    await socket.prepare(request)
    async for msg in socket:
        if msg.type == WSMsgType.TEXT and msg.data.startswith("close "):
            await socket.close(code=int(msg.data.split()[1]))
        elif msg.type == WSMsgType.TEXT:
            await socket.send_str("echo " + msg.data)
        elif msg.type == WSMsgType.BINARY:
            await socket.send_bytes(msg.data[::-1])
    return socket


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "0.5")))
    return web.Response(text="slow " + request.query.get("n", ""))


app = web.Application(client_max_size=1024**3)


async def environment(request: web.Request) -> web.Response:
    """The variables named in the query (``?name=A&name=B``), as the app sees them."""
    return web.json_response({n: os.environ.get(n) for n in request.query.getall("name", [])})


def readable(top: str) -> list[str]:
    found = []
    for folder, dirs, files in os.walk(top, onerror=lambda e: None):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        found += [os.path.join(folder, f) for f in files]
    return found


async def search(request: web.Request) -> web.Response:
    """Where this app's code finds ``?for=VALUE`` as a hostile owner's would look: its
    environment, every process's environment and command line, every file it can read
    under ``?under=DIR`` (repeatable)."""
    value = request.query["for"].encode()
    places = (
        ["env"] if value in b"\0".join(f"{k}={v}".encode() for k, v in os.environ.items()) else []
    )
    paths = [
        f"/proc/{p}/{f}" for p in os.listdir("/proc") if p.isdigit() for f in ("environ", "cmdline")
    ]
    for top in request.query.getall("under", []):
        paths += readable(top)
    for path in paths:
        try:
            with open(path, "rb") as f:  # noqa: ASYNC230 (a test app; small files)
                if value in f.read(4 * 2**20):
                    places.append(path)
        except OSError:
            pass
    return web.json_response({"found": places, "looked": len(paths)})


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
SMUGGLED = {  # heads a browser reads otherwise than a line-by-line filter
    "lf": OK + b"X-A: 1\nSet-Cookie: podium-dashboard=SMUGGLED; Path=/",
    "cr": OK + b"X-A: 1\rSet-Cookie: podium-dashboard=SMUGGLED; Path=/",
    "fold": OK + b"Set-Cookie: app=1; Path=/\r\n ; Domain=localhost; x=SMUGGLED",
    "space": OK + b"Set-Cookie : podium-dashboard=SMUGGLED; Path=/",
    # A body end the browser sees sooner than a relay reading Transfer-Encoding: the next
    # response would ride inside this one.
    # An upgrade nobody asked for: interim to a browser, final to a relay that believed it.
    "h101": b"HTTP/1.1 101 Switching Protocols\r\nX-A: 1\r\n\r\n"
    + OK
    + b"Set-Cookie: podium-dashboard=SMUGGLED; Path=/",
    # 205 has no body to a browser: what its head calls one is the next response.
    "r205": b"HTTP/1.1 205 Reset Content\r\nContent-Length: 54\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nSet-Cookie: podium-dashboard=SMUGGLED",
    "te10": b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\nX-Next: SMUGGLED",
}


async def smuggle(request: web.Request) -> web.Response:
    """A response head aiohttp would never write: raw bytes, then the connection ends."""
    line = SMUGGLED[request.query["how"]]
    assert request.transport is not None
    request.transport.write(line + b"\r\n\r\nok")
    request.transport.close()
    return web.Response()


app.router.add_get(P + "smuggle", smuggle)
app.router.add_get(P + "env", environment)
app.router.add_get(P + "search", search)
app.router.add_get(P + "headers", headers)
app.router.add_get(P + "big", big)
app.router.add_post(P + "upload", upload)
app.router.add_get(P + "events", events)
app.router.add_get(P + "cookies", cookies)
app.router.add_get(P + "ws", ws)
app.router.add_get(P + "slow", slow)
app.router.add_get(P, headers)
web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
