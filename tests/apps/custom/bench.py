"""The benchmarks' app: a small page, a 10 MB download streamed in blocks, a WebSocket echo."""

import argparse

from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()
P = args.prefix
BLOCK = b"x" * 65536


async def page(request: web.Request) -> web.Response:
    return web.Response(
        content_type="text/html", text="<html><body><h1>small page</h1></body></html>"
    )


async def big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = 160 * len(BLOCK)
    await response.prepare(request)
    for _ in range(160):
        await response.write(BLOCK)
    return response


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


app = web.Application()
app.router.add_get(P, page)
app.router.add_get(P + "big", big)
app.router.add_get(P + "ws", echo)
web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)
