"""What crosses the gateway, as bytes: request heads to runners, response heads to viewers.

Pure functions over raw HTTP/1.1 heads (relay.http1), used by the front door
on every proxied request. To a runner goes the viewer's request minus
hop-by-hop headers, the gateway's and the hub's cookies, any ``Authorization``
and any ``X-Podium-*`` the client sent; plus the runner credential, the viewer's
name (``X-Podium-User``) and ``X-Forwarded-*``. ``Transfer-Encoding`` stays: the
body crosses unchanged, in the framing it came in. Back to the viewer goes the
runner's response with its cookies kept to the dashboard: none of the gateway's
or the hub's names, no ``Domain`` (a dashboard host's cookie could otherwise land
on its siblings or the hub's parent domain), ``Path`` inside the dashboard where
other things share its host, and no ``Clear-Site-Data``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from relay.http1 import Request
from runners.contract import CREDENTIAL_HEADER

_PREFIX = b"podium-"  # every cookie of the gateway's: session, XSRF, login state, dashboard
_HUB_PREFIX = b"jupyterhub-"  # the hub's cookies: jupyterhub-hub-login, -session-id, -user-…

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
        # Identities a proxy in front of an app may assert: only the gateway's counts
        # (X-Podium-User), and an app trusting one of these would believe the viewer.
        b"remote-user",
        b"x-remote-user",
        b"x-forwarded-user",
        b"x-forwarded-email",
        b"x-forwarded-preferred-username",
        b"x-forwarded-groups",
        b"x-auth-request-user",
        b"x-auth-request-email",
    }
)
_REACHING = re.compile(rb"\r\n(?:set-cookie|clear-site-data):", re.IGNORECASE)
_CREDENTIAL = CREDENTIAL_HEADER.encode()


def _cookie_pairs(header: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for part in header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        pairs.append((name.strip(), value.strip()))
    return pairs


def cookie_values(header: bytes, name: bytes) -> list[bytes]:
    """Every value of cookie ``name`` in a ``Cookie`` header, in the order sent.

    More than one is a cookie planted beside the real one (a page's script with a
    longer ``Path``, a sibling host's ``Domain=``): the readers of Podium's cookies
    take none of them (see :func:`cookie_value`).
    """
    if name not in header:
        return []
    return [value.strip(b'"') for key, value in _cookie_pairs(header) if key == name]


def cookie_value(header: bytes, name: bytes) -> bytes | None:
    """The value of cookie ``name`` in a ``Cookie`` header; None when absent or sent twice."""
    values = cookie_values(header, name)
    return values[0] if len(values) == 1 else None


def _not_for_dashboards(name: bytes) -> bool:
    """A cookie name of the gateway's or the hub's, which no dashboard may read or set."""
    lowered = name.strip().lower().removeprefix(b"__host-").removeprefix(b"__secure-")
    return lowered.startswith(_PREFIX) or lowered.startswith(_HUB_PREFIX)


def strip_cookies(header: bytes) -> bytes:
    """The ``Cookie`` header without the gateway's and the hub's cookies; the others as
    they came."""
    if _PREFIX not in header and _HUB_PREFIX not in header:
        return header
    kept = [part.strip() for part in header.split(b";")]
    return b"; ".join(p for p in kept if p and not _not_for_dashboards(p.partition(b"=")[0]))


def wants_websocket(request: Request) -> bool:
    upgrade = request.head.get(b"upgrade")
    return len(upgrade) == 1 and upgrade[0].lower() == b"websocket"


def from_elsewhere(request: Request) -> bool:
    """A request another page made in the viewer's browser — another site's, or another
    dashboard's on the same site — and not the viewer going to this dashboard (a GET
    navigation of the whole tab). The viewer's cookie does not count for it:
    ``SameSite=Lax`` lets a sibling dashboard's requests carry it, a dashboard that
    answers CORS with credentials (Gradio does, for every origin) would be read or posted
    to as its viewer, and one framed by a sibling would be clicked as its viewer.

    Browsers say where a request comes from in ``Sec-Fetch-Site`` (and what it is for in
    ``Sec-Fetch-Mode`` and ``-Dest``); where they do not (older browsers, plain-http hosts
    other than localhost), an ``Origin`` of another host says it for everything but a
    top-level navigation, which sends none on GET."""
    site = request.head.get(b"sec-fetch-site")
    if site:
        if site == [b"same-origin"] or site == [b"none"]:
            return False
        whole_tab = request.head.get(b"sec-fetch-dest") in ([b"document"], [])
        navigates = request.head.get(b"sec-fetch-mode") == [b"navigate"] and whole_tab
        return not (navigates and request.method in (b"GET", b"HEAD"))
    origin, host = origin_and_host(request)
    return origin is not None and not same_origin(origin, host)


def installs_a_worker(request: Request) -> bool:
    """The browser fetches a service worker's script (``Service-Worker: script``). None is
    allowed on a dashboard: on its origin it would outlive the visit and answer for the
    paths Podium serves there (the sign-in, whose code it could keep)."""
    return bool(request.head.get(b"service-worker"))


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
    target: bytes | None = None,
) -> bytes:
    """The head of ``request`` as the runner must see it: with its ``credential`` for the
    guard, or (none) as the guard would pass it on, to ``target`` (gateway.front.direct).

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
    if credential:
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
    return request.serialize(request.target if target is None else target, lines)


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


def reaches_beyond(block: bytes) -> bool:
    """Whether a response head sets cookies or clears site data (most do neither)."""
    return _REACHING.search(block) is not None


def response_head(block: bytes, prefix: bytes | None = None) -> bytes:
    """A runner's response head as it may reach the viewer: its ``Set-Cookie`` lines kept
    to the dashboard (``prefix``: pin each cookie's path inside it; None: the dashboard has
    a host of its own), and no ``Clear-Site-Data``.

    A dashboard could otherwise set (and so replace) the gateway's session, logging the
    viewer in as the owner; plant the hub's cookies; or, from a host of its own, reach its
    siblings and the hub's parent domain with ``Domain=``.
    """
    if not reaches_beyond(block):
        return block
    start, *lines = block.split(b"\r\n")
    kept = []
    for line in lines:
        name, _, value = line.partition(b":")
        field = name.strip().lower()
        if field == b"clear-site-data":
            continue
        if field == b"set-cookie":
            cookie = own_cookie(value.strip(), prefix)
            if cookie is None:
                continue
            line = b"Set-Cookie: " + cookie
        kept.append(line)
    return b"\r\n".join((start, *kept))


def own_cookie(cookie: bytes, prefix: bytes | None) -> bytes | None:
    """A dashboard's ``Set-Cookie`` value kept to the dashboard; None when refused."""
    pair, *attributes = (part.strip() for part in cookie.split(b";"))
    if _not_for_dashboards(pair.partition(b"=")[0]) or not pair.partition(b"=")[0].strip():
        return None
    kept = []
    for attribute in attributes:
        key, _, value = attribute.partition(b"=")
        key = key.strip().lower()
        if key == b"domain":
            continue  # host-only: this host, never its parent domain
        if key == b"path" and prefix is not None and not value.strip().startswith(prefix):
            continue  # replaced below
        kept.append(attribute)
    if prefix is not None and not any(a.lower().startswith(b"path=") for a in kept):
        kept.append(b"Path=" + prefix)
    return b"; ".join((pair, *kept))
