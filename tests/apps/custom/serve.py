"""A minimal custom app: a page, a static asset and a WebSocket echo under a prefix."""

import argparse

from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--prefix", required=True)
args = parser.parse_args()
P = args.prefix


async def page(request):
    return web.Response(
        content_type="text/html",
        text=f'<html><head><link rel="stylesheet" href="{P}static/app.css"></head>'
        f"<body><h1>Hello from custom</h1></body></html>",
    )


async def css(request):
    return web.Response(content_type="text/css", text="h1 { color: teal; }")


async def echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str("echo: " + msg.data)
    return ws


app = web.Application()
app.router.add_get(P, page)
app.router.add_get(P + "static/app.css", css)
app.router.add_get(P + "ws", echo)
web.run_app(app, host="127.0.0.1", port=args.port, print=None)
