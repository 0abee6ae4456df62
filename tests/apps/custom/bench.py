"""The benchmarks' app: a 2 KB page, 1 MB and 10 MB downloads, a WebSocket echo."""

import argparse

from aiohttp import WSMsgType, web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()
P = args.prefix
BLOCK = b"x" * 65536
ROWS = "".join(f"<tr><td>region {i}</td><td>{i * 1234}</td></tr>" for i in range(48))
PAGE = f"<!doctype html><html><body><h1>small page</h1><table>{ROWS}</table></body></html>"
MEGABYTE = b"y" * 2**20


async def page(request: web.Request) -> web.Response:
    return web.Response(content_type="text/html", text=PAGE)


async def one_megabyte(request: web.Request) -> web.Response:
    return web.Response(body=MEGABYTE, content_type="application/octet-stream")


async def big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = 160 * len(BLOCK)
    await response.prepare(request)
    for _ in range(160):
        await response.write(BLOCK)
    return response


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=2**21)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


app = web.Application()
app.router.add_get(P, page)
app.router.add_get(P + "1mb", one_megabyte)
app.router.add_get(P + "big", big)
app.router.add_get(P + "ws", echo)
web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
