"""The few pages the gateway renders itself: the wake-up progress page and refusals.

Plain, self-contained HTML (no external assets). The full gallery and forms
come with the web pages; these pages only need to be clear and honest.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote

from aiohttp import web

from gateway.dashboards import Dashboard
from runners.http1 import REASONS, simple_response

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212529;background:#f8f9fa}
main{max-width:40rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #dee2e6;border-radius:.5rem}
h1{font-size:1.4rem;margin-top:0}.muted{color:#6c757d}a{color:#0d6efd}
.bar{height:.4rem;background:#e9ecef;border-radius:.2rem;overflow:hidden}
.bar span{display:block;height:100%;width:30%;background:#f37524;animation:slide 1.2s infinite ease-in-out}
@keyframes slide{0%{margin-left:-30%}100%{margin-left:100%}}
"""

TITLES = {403: "Not shared with you", 404: "Not found", 502: "Not answering", 504: "Not answering"}


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)} · Podium</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _page(status: int, title: str, body: str) -> web.Response:
    return web.Response(status=status, text=_document(title, body), content_type="text/html")


def _refusal(status: int, message_html: str, prefix: str) -> tuple[str, str]:
    title = TITLES.get(status, "Error")
    body = (
        f"<h1>{title}</h1><p>{message_html}</p>"
        f'<p class=muted><a href="{html.escape(prefix)}">All dashboards</a> · <a href="/hub/home">Hub home</a></p>'
    )
    return title, body


def refusal_page(status: int, message_html: str, prefix: str) -> web.Response:
    """403/404/502 in the same look, with a way back. ``message_html`` is already escaped."""
    return _page(status, *_refusal(status, message_html, prefix))


def error_bytes(status: int, message_html: str, prefix: str) -> bytes:
    """:func:`refusal_page` as a whole HTTP response, for the front door (closes the connection)."""
    document = _document(*_refusal(status, message_html, prefix))
    reason = REASONS.get(status, "Error")
    return simple_response(status, reason, document, content_type="text/html; charset=utf-8")


def progress_page(dashboard: Dashboard, prefix: str) -> web.Response:
    """Shown while a dashboard starts; follows the start's events, then loads the app."""
    events = f"{prefix}_/api/dashboards/{quote(dashboard.owner, safe='')}/{dashboard.name}/events"
    title = html.escape(dashboard.title or dashboard.name)
    script = f"""
const status=document.getElementById('status'), since=Date.now();
const source=new EventSource({json.dumps(events)});
source.onmessage=(e)=>{{const p=JSON.parse(e.data);
  status.textContent=(p.message||p.status)+' ('+Math.round((Date.now()-since)/1000)+' s)';
  if(p.status==='ready'||p.status==='stopped'){{source.close();location.reload();}}
  if(p.status==='failed'){{source.close();document.getElementById('bar').remove();
    status.textContent='This dashboard could not start. Its owner can see why; try again later.';}}}};
source.onerror=()=>{{status.textContent='Waiting for the gateway…';}};
"""
    body = (
        f"<h1>Starting {title}</h1><div class=bar id=bar><span></span></div>"
        f"<p id=status class=muted role=status aria-live=polite>{html.escape(dashboard.message or 'starting')}</p>"
        f"<script>{script}</script>"
    )
    response = _page(202, f"Starting {dashboard.title}", body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Retry-After"] = "2"
    return response


def gallery_page(user_name: str, dashboards: list[Dashboard], prefix: str) -> web.Response:
    """The dashboards a user may open: theirs first, then those shared with them."""
    mine = [d for d in dashboards if d.owner == user_name]
    shared = [d for d in dashboards if d.owner != user_name]

    def rows(items: list[Dashboard]) -> str:
        if not items:
            return "<p class=muted>None yet.</p>"
        cells = "".join(
            f'<tr><td><a href="{html.escape(d.url(prefix))}">{html.escape(d.title or d.name)}</a>'
            f"<div class=muted>{html.escape(d.description)}</div></td>"
            f"<td>{html.escape(d.owner)}</td><td>{html.escape(d.framework)}</td>"
            f"<td>{html.escape(d.status)}</td><td>{html.escape(d.access.mode)}</td></tr>"
            for d in items
        )
        head = "<tr><th>Dashboard</th><th>Owner</th><th>Framework</th><th>Status</th><th>Access</th></tr>"
        return f"<table>{head}{cells}</table>"

    body = (
        f"<h1>Dashboards</h1><p class=muted>Signed in as {html.escape(user_name)} · "
        f'<a href="/hub/home">Hub home</a> · <a href="{html.escape(prefix)}_/api/openapi.json">API</a></p>'
        f"<h2>My dashboards</h2>{rows(mine)}<h2>Shared with me</h2>{rows(shared)}"
    )
    response = _page(
        200,
        "Dashboards",
        body.replace("<table>", '<table style="width:100%;border-collapse:collapse">'),
    )
    return response
