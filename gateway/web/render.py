"""Rendering the gateway's pages: Jinja2 templates in the look of JupyterHub (Bootstrap 5).

Templates autoescape everything; no page carries inline script or style, so every
page is served with a strict Content-Security-Policy. Assets are the gateway's
own (``P_/static/``), with a version in their URL so browsers may keep them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from gateway.domain.access import User
from runners.recipes import RECIPES

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)

STATUS_LABELS = {
    "ready": "Running",
    "starting": "Starting",
    "stopping": "Stopping",
    "stopped": "Stopped",
    "failed": "Failed",
}
FRAMEWORK_LABELS = {name: recipe.label for name, recipe in RECIPES.items()}


def _assets_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


VERSION = _assets_version()
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)
ENV.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)
ENV.filters["framework_label"] = lambda name: FRAMEWORK_LABELS.get(name, name)


@dataclass(frozen=True)
class Site:
    """What every page links to: the gateway's prefix and the hub."""

    prefix: str = "/dashboards/"
    hub_url: str = "/hub/"

    def static(self, path: str) -> str:
        return f"{self.prefix}_/static/{path}?v={VERSION}"


def render(template: str, site: Site, **context: Any) -> str:
    context.setdefault("user", None)
    context.setdefault("can_create", False)
    context.setdefault("xsrf", "")
    context.setdefault("active", "")
    return ENV.get_template(template).render(site=site, **context)


def page(
    template: str,
    site: Site,
    *,
    status: int = 200,
    user: User | None = None,
    **context: Any,
) -> web.Response:
    response = web.Response(
        status=status,
        text=render(template, site, user=user, **context),
        content_type="text/html",
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
