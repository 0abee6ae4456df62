"""What crosses the gateway, as bytes: request heads to runners, response heads to viewers.

Pure functions over raw HTTP/1.1 heads (runners.http1), used by the front door
on every proxied request. To a runner goes the viewer's request minus
hop-by-hop headers, the gateway's own cookies, any ``Authorization`` and any
``X-Podium-*`` the client sent; plus the runner credential, the viewer's name
(``X-Podium-User``) and ``X-Forwarded-*``. ``Transfer-Encoding`` stays: the body
crosses unchanged, in the framing it came in. Back to the viewer goes the
runner's response minus any attempt to set the gateway's own cookies.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gateway.auth import SESSION_COOKIE, STATE_COOKIE, XSRF_COOKIE
from gateway.handoff import DASHBOARD_COOKIE
from runners.guard import CREDENTIAL_HEADER
from runners.http1 import Request

GATEWAY_COOKIES = frozenset(
    name.encode() for name in (SESSION_COOKIE, XSRF_COOKIE, STATE_COOKIE, DASHBOARD_COOKIE)
)
_PREFIX = b"podium-"

# Hop-by-hop headers, plus what the gateway replaces or must never pass on.
_DROPPED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"upgrade",
        b"authorization",
        b"cookie",
        b"x-forwarded-for",
    }
)
_OURS = re.compile(rb"\r\nset-cookie:[ \t]*podium-", re.IGNORECASE)
_CREDENTIAL = CREDENTIAL_HEADER.encode()


def _cookie_pairs(header: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        pairs.append((name.strip(), value.strip()))
    return pairs


def cookie_value(header: bytes, name: bytes) -> bytes | None:
    """The value of cookie ``name`` in a ``Cookie`` header (the first one sent)."""
    if name not in header:
        return None
    for key, value in _cookie_pairs(header):
        if key == name:
            return value.strip(b'"')
    return None


def strip_cookies(header: bytes) -> bytes:
    """The ``Cookie`` header without the gateway's own cookies; the others as they came."""
    if _PREFIX not in header:
        return header
    kept = [part.strip() for part in header.split(b";")]
    return b"; ".join(p for p in kept if p and p.partition(b"=")[0].strip() not in GATEWAY_COOKIES)


def wants_websocket(request: Request) -> bool:
    upgrade = request.head.get(b"upgrade")
    return len(upgrade) == 1 and upgrade[0].lower() == b"websocket"


def same_origin(origin: str | None, host: str | None) -> bool:
    """A WebSocket must come from a page of this site (the proxy chain keeps the Host header).

    ``host`` is the forwarded host, else the Host header. Without ``Origin`` it is not a
    browser: a script with a token has no origin to forge.
    """
    return origin is None or (host is not None and urlsplit(origin).netloc == host)


def origin_and_host(request: Request) -> tuple[str | None, str | None]:
    """The ``Origin`` and (forwarded) host of a raw request; a repeated one counts as absent."""
    origins = request.head.get(b"origin")
    hosts = request.head.get(b"x-forwarded-host") or request.head.get(b"host")
    origin = origins[0].decode("latin-1") if len(origins) == 1 else None
    if len(origins) > 1:
        return "", None  # several origins: never the same as ours
    return origin, hosts[0].decode("latin-1") if len(hosts) == 1 else None


def upstream_head(
    request: Request,
    *,
    peer: str,
    credential: str,
    viewer: str,
    websocket: bool,
    compression: bool = True,
) -> bytes:
    """The head of ``request`` as the runner must see it.

    Without ``compression`` a WebSocket's extensions are not offered to the app: the
    gateway then sees every message's real size (a compressed message of a few KiB can
    inflate to gigabytes in the app), at the cost of uncompressed traffic."""
    head = request.head
    named = {
        token.strip().lower()
        for value in head.get(b"connection")
        for token in value.split(b",")
        if token.strip()
    }
    lines = [
        line
        for line, name in zip(head.lines, head.names, strict=True)
        if name not in _DROPPED
        and name not in named
        and not name.startswith(b"x-podium-")
        and (compression or name != b"sec-websocket-extensions")
    ]
    cookies = strip_cookies(b"; ".join(head.get(b"cookie")))
    if cookies:
        lines.append(b"Cookie: " + cookies)
    if websocket:
        lines += [b"Connection: Upgrade", b"Upgrade: websocket"]
    lines.append(_CREDENTIAL + b": " + credential.encode())
    lines.append(b"X-Podium-User: " + viewer.encode())
    forwarded = b", ".join(head.get(b"x-forwarded-for"))
    address = peer.encode()
    lines.append(b"X-Forwarded-For: " + (forwarded + b", " + address if forwarded else address))
    if not head.get(b"x-forwarded-proto"):
        lines.append(b"X-Forwarded-Proto: http")
    hosts = head.get(b"host")
    if not head.get(b"x-forwarded-host") and hosts:
        lines.append(b"X-Forwarded-Host: " + hosts[0])
    return request.serialize(request.target, lines)


def app_head(request: Request) -> bytes:
    """The head of ``request`` for the gateway's own application: no client ``X-Podium-*``."""
    head = request.head
    if not any(name.startswith(b"x-podium-") for name in head.names):
        return request.serialize(request.target, head.lines)
    lines = [
        line
        for line, name in zip(head.lines, head.names, strict=True)
        if not name.startswith(b"x-podium-")
    ]
    return request.serialize(request.target, lines)


def response_head(block: bytes) -> bytes:
    """A runner's response head, minus any ``Set-Cookie`` of the gateway's own cookies.

    A dashboard lives under the gateway's prefix, so it could set (and so replace)
    the gateway's session: a viewer logged in as the dashboard's owner.
    """
    if _OURS.search(block) is None:
        return block
    start, *lines = block.split(b"\r\n")
    kept = [
        line
        for line in lines
        if not (
            line[:11].lower() == b"set-cookie:" and line[11:].lstrip(b" \t").startswith(_PREFIX)
        )
    ]
    return b"\r\n".join((start, *kept))
