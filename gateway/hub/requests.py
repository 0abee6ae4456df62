"""Small readings of a request for sign-in: its cookies (each value sent, never one of
several silently), its API token, where to go after login; and a redirect."""

from __future__ import annotations

from aiohttp import web

from gateway.front.forwarding import cookie_values


def cookies_sent(request: web.Request, name: str) -> list[str]:
    """Every value of cookie ``name`` the request carries (aiohttp's ``request.cookies``
    keeps one of several, silently)."""
    header = "; ".join(request.headers.getall("Cookie", [])).encode("latin-1", "replace")
    return [v.decode("latin-1") for v in cookie_values(header, name.encode())]


def sole_cookie(request: web.Request, name: str) -> str | None:
    """The value of cookie ``name``; None when absent or sent twice (one planted)."""
    values = cookies_sent(request, name)
    return values[0] if len(values) == 1 else None


def redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def api_token(authorization: str) -> str:
    """The token of an ``Authorization: token …`` (or ``Bearer``) header, else ``""``."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() in ("token", "bearer") else ""


def safe_next(value: str | None, prefix: str) -> str:
    """Where to go after login: only a path inside the gateway, never another site."""
    if not value or not value.startswith(prefix) or value.startswith("//") or "\\" in value:
        return prefix
    if any(ord(c) < 32 for c in value):
        return prefix
    return value
