"""The gateway's front door: its public listener, relaying dashboard traffic as bytes.

Every request head is read here (relay.server, the design the runner's guard
uses). A request for a ready dashboard from a viewer who may see it goes
straight to the dashboard's runner: head rewritten (gateway.front.forwarding), body
and response streamed as they come, a WebSocket tunnelled after its 101. The
decision comes from the auth and lifecycle caches, so a proxied request costs
no hub call, no store read and no await; on a cache miss the caches are filled
first (the hub asked once), then the same decision is made.

Everything else — the API, the pages, the login, a sleeping dashboard (the
wake-up page), a refusal — goes to the gateway's aiohttp application on a
private Unix socket, which answers it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from aiohttp import web

from gateway import keys
from gateway.domain.access import can_view
from gateway.domain.dashboards import Dashboard, Key
from gateway.domain.runtime import Runtime
from gateway.errors import PodiumError
from gateway.front.direct import Runners
from gateway.front.forwarding import (
    app_head,
    cookie_value,
    from_elsewhere,
    installs_a_worker,
    origin_and_host,
    reaches_beyond,
    response_head,
    same_origin,
    upstream_head,
    wants_websocket,
)
from gateway.front.handoff import DASHBOARD_COOKIE
from gateway.front.limits import ViewerLimits
from gateway.front.passes import SHARE_COOKIE
from gateway.hub.auth import SESSION_COOKIE, Identity
from gateway.metrics import is_metrics_token
from gateway.web.pages import error_bytes
from relay.http1 import Request
from relay.policy import Forward, Policy, Target, Verdict
from relay.server import Relay
from runners.names import UnusableName, owner_from_segment, owner_segment

log = logging.getLogger("podium.front")
HEAD_TIMEOUT = 30.0  # a client that sends no whole request head in time is dropped (slowloris)
IDLE_TIMEOUT = 75.0  # between requests on a kept-alive connection, as aiohttp's own server
HOLD_SECONDS = 15.0  # how long a request waits for a starting dashboard before a 503
_SESSION = SESSION_COOKIE.encode()


@dataclass(frozen=True, slots=True)
class Tag:
    """What a forwarded request is, for the relay's callbacks: whose dashboard, which viewer."""

    key: Key
    viewer: str
    began: float = field(default=0.0, compare=False)  # its head read (monotonic): the metric
    share: str = field(default="", compare=False)  # let in by this share link's pass alone


def _let_in_by(links: set[str], tag: Hashable) -> bool:
    """Whether ``tag``'s forward was let in by a pass of one of ``links`` alone."""
    return isinstance(tag, Tag) and tag.share in links


@functools.lru_cache(maxsize=4096)
def owner_of(segment: bytes) -> tuple[str, bytes] | None:
    """The owner an owner segment names however it is spelt (``o'neil``, ``o%27neil``), and
    its canonical spelling (runners.names); None when it names no owner."""
    try:
        owner = owner_from_segment(segment.decode("utf-8"))
    except (UnicodeDecodeError, UnusableName):
        return None
    return owner, owner_segment(owner).encode()


def wants_page(request: Request) -> bool:
    """A person opening the page (the progress page is for them), as the application
    tells it (gateway.web.wakeup.wants_page): a GET that accepts HTML."""
    return request.method == b"GET" and any(b"text/html" in v for v in request.head.get(b"accept"))


def host_of(request: Request) -> str:
    """The ``Host`` the browser sent (never ``X-Forwarded-Host``, which a page can set)."""
    hosts = request.head.get(b"host")
    return hosts[0].decode("latin-1") if len(hosts) == 1 else ""


def client_address(request: Request, peer: str) -> str:
    """The address the hub's proxy saw (the last ``X-Forwarded-For`` hop), else the peer's."""
    forwarded = request.head.get(b"x-forwarded-for")
    if forwarded:
        return forwarded[-1].rsplit(b",", 1)[-1].strip().decode("latin-1")
    return peer


class FrontDoor(Policy):
    """The relay policy of the gateway's public port."""

    def __init__(self, app: web.Application, app_socket: str) -> None:
        self.relay = Relay(self, HEAD_TIMEOUT, IDLE_TIMEOUT)
        config = app[keys.CONFIG]
        self.prefix = config.prefix
        self.site = app[keys.SITE]
        self._prefix = config.prefix.encode()
        self.auth = app[keys.AUTH]
        self.lifecycle = app[keys.LIFECYCLE]
        self.reads = self.lifecycle.reads  # what to forward to (cached for seconds)
        self.activity = self.lifecycle.activity  # views, idle clocks, open WebSockets
        self.public_enabled = app[keys.RULES].public_enabled
        self.message_limit = config.max_websocket_message
        self.limits = ViewerLimits(
            config.viewer_request_rate, config.viewer_request_burst, config.viewer_websockets
        )
        self.app_socket = app_socket
        self.origins = app[keys.ORIGINS]
        self.metrics = app[keys.METRICS]
        self.metrics_token = config.metrics_token
        self._dashboard_cookie = self.origins.cookie(DASHBOARD_COOKIE).encode()
        self._share_cookie = self.origins.cookie(SHARE_COOKIE).encode()
        self.passes = app[keys.PASSES]
        self._watch: asyncio.Future[None] | None = None
        self.runners = Runners(config.cookie_secret, config.prefix)

    async def start(self, host: str, port: int) -> int:
        self._watch = asyncio.ensure_future(self._close_ended_passes())
        return await self.relay.start(host, port)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await self.relay.stop()

    async def _close_ended_passes(self, every: float = 1.0) -> None:
        """A WebSocket is the dashboard for most frameworks: one a share link's pass opened
        is closed within ``every`` seconds of the link's revocation or end."""
        while True:
            await asyncio.sleep(every)
            tunnels = [c for c in self.relay.connections if c.tunnelling]
            links = {t.share for c in tunnels if isinstance(t := c.forwarding, Tag) and t.share}
            try:
                ended = {link for link in links if not await self.passes.still_valid(link)}
            except Exception:  # the store not answering: looked at again next time
                log.warning("cannot check the share links of open WebSockets", exc_info=True)
                continue
            for connection in tunnels:
                if _let_in_by(ended, connection.forwarding):
                    connection.close()

    # --- the relay's policy ------------------------------------------------------------
    def decide(self, request: Request, peer: str) -> Verdict | asyncio.Future[Verdict]:
        key = self.dashboard_key(request.path)
        if key is None:
            return self.to_app(request)
        request = self.canonical(request)
        if installs_a_worker(request):
            return error_bytes(self.site, 403, "A dashboard cannot install a service worker.")
        cookie = _SESSION
        if self.origins.isolated:
            if not self.origins.serves(host_of(request), *key):
                return self.to_app(request)  # the gateway's origin sends people on; else 404
            cookie = self._dashboard_cookie
        authorization, session = self._credentials_of(request, cookie)
        if authorization and is_metrics_token(authorization, self.metrics_token):
            authorization = ""  # Prometheus's token, sent here by mistake: never the hub's
        dashboard_id = f"{key[0]}/{key[1]}" if cookie != _SESSION else None
        who = self.auth.known(authorization, session, dashboard_id)
        found = self.reads.cached(*key)
        self.metrics.looked_up(who is not None, found is not None)
        share = self._credentials_of(request, self._share_cookie)[1]  # a share link's pass
        let_in = self.passes.known(share, key) if share else False
        if who is None or found is None or let_in is None or self._holds(request, who, found[0]):
            credentials = (authorization, session, share)
            return asyncio.ensure_future(
                self._decide_later(request, peer, key, credentials, dashboard_id)
            )
        # A pass names its link: what ends the WebSockets it opened.
        shared = self.passes.link_of(share) if let_in and share else ""
        return self.route(request, peer, who, *found, shared=shared)

    async def _decide_later(
        self,
        request: Request,
        peer: str,
        key: Key,
        credentials: tuple[str, str | None, str | None],
        dashboard_id: str | None,
    ) -> Verdict:
        """:meth:`decide` when a cache did not know: the same credentials, looked up."""
        authorization, session, share = credentials
        try:
            who = await self.auth.identify_by(authorization, session, dashboard_id)
            let_in = bool(share) and await self.passes.check(share or "", key)
            shared = self.passes.link_of(share or "") if let_in else ""
            dashboard, runtime = await self.reads.lookup(*key)
            deadline = time.monotonic() + HOLD_SECONDS
            while self._holds(request, who, dashboard) and time.monotonic() < deadline:
                await self.reads.changed(key, min(1.0, deadline - time.monotonic()))
                dashboard, runtime = await self.reads.lookup(*key)
        except PodiumError:
            return self.to_app(request)  # it answers: 401, 404, 503 …
        except Exception:
            log.exception("deciding %s", request.target.decode("latin-1"))
            return self.to_app(request)
        return self.route(request, peer, who, dashboard, runtime, shared=shared)

    def _holds(self, request: Request, who: Identity, dashboard: Dashboard) -> bool:
        """Whether this request waits for its dashboard to be ready (up to HOLD_SECONDS)
        rather than being answered 503: a script's or a page's own request (an asset, a
        WebSocket reconnecting after a runner restart) to a dashboard that is starting,
        from a viewer who may see it. A person opening the page gets the progress page
        at once instead (the application's)."""
        if dashboard.status == "ready":
            return False  # every proxied request asks: the common answer first, at no cost
        return (
            (dashboard.status == "starting" or self.lifecycle.is_starting(dashboard.key))
            and not wants_page(request)
            and can_view(who.user, dashboard, public_enabled=self.public_enabled)
        )

    def unreachable(self, why: str, tag: Hashable) -> bytes:
        if isinstance(tag, Tag):
            self.lifecycle.suspect(tag.key)  # dead? restarted now, not at the next check
        return error_bytes(
            self.site,
            502,
            "The dashboard is not answering. It may be restarting: try again in a moment.",
        )

    def tunnel(self, tag: Hashable, opened: bool) -> None:
        """A viewer's WebSocket is a viewer with the page open: the dashboard is in use."""
        if isinstance(tag, Tag):
            if opened:
                self.activity.socket_opened(tag.key)
                self.limits.socket_opened(tag.viewer)
                self.metrics.websocket(True)
            else:
                self.activity.socket_closed(tag.key)
                self.limits.socket_closed(tag.viewer)
                self.metrics.websocket(False)

    def response_head(self, block: bytes, tag: Hashable) -> bytes:
        if isinstance(tag, Tag):
            self.metrics.answered(block, tag.began, tag.key)
        if self.origins.per_dashboard or not isinstance(tag, Tag) or not reaches_beyond(block):
            return response_head(block)  # a host of its own: cookies stay on it
        owner, name = tag.key
        return response_head(block, f"{self.prefix}{owner_segment(owner)}/{name}/".encode())

    # --- deciding ----------------------------------------------------------------------
    def dashboard_key(self, path: bytes) -> Key | None:
        """``(owner, name)`` of a path inside a dashboard (``P<owner>/<name>/…``), else None."""
        if not path.startswith(self._prefix):
            return None
        parts = path[len(self._prefix) :].split(b"/", 2)
        if len(parts) < 3 or parts[0] in (b"", b"_") or not parts[1]:
            return None
        found = owner_of(parts[0])
        try:
            name = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None  # the application decodes and answers it
        if found is None:
            return None
        return found[0], (unquote(name) if "%" in name else name)

    def canonical(self, request: Request) -> Request:
        """The request with its owner spelt as every link spells it (runners.names), which
        is the only prefix the runner knows: a browser sends ``o'neil`` raw, a client
        ``jane.doe%40example.org``, and aiohttp turns ``%27`` back into ``'``. Rewritten,
        not redirected: a client that unescapes what it is sent would loop for ever."""
        start = len(self._prefix)
        end = request.target.index(b"/", start)
        segment = request.target[start:end]
        found = owner_of(segment)
        if found is None or found[1] == segment:
            return request
        target = self._prefix + found[1] + request.target[end:]
        start_line = b" ".join((request.method, target, request.version))
        return Request(
            replace(request.head, start=start_line), request.method, target, request.version
        )

    def is_page(self, path: bytes) -> bool:
        """``P<owner>/<name>/``: the dashboard's page itself (a view), not one of its assets."""
        return path.endswith(b"/") and path.count(b"/") == self._prefix.count(b"/") + 2

    @staticmethod
    def _credentials_of(request: Request, cookie: bytes) -> tuple[str, str | None]:
        """The ``Authorization`` header and the cookie that names the viewer here: the
        session on the gateway's origin, the dashboard's own on a dashboard origin (none
        when it was sent twice: the application answers that; none for a request another
        page made: :func:`from_elsewhere`)."""
        authorization = request.head.get(b"authorization")
        cookies = b"" if from_elsewhere(request) else b"; ".join(request.head.get(b"cookie"))
        session = cookie_value(cookies, cookie) if cookies else None
        return (
            authorization[0].decode("latin-1") if len(authorization) == 1 else "",
            session.decode("latin-1") if session else None,
        )

    def route(
        self,
        request: Request,
        peer: str,
        who: Identity,
        dashboard: Dashboard,
        runtime: Runtime | None,
        *,
        shared: str = "",
    ) -> Verdict:
        """To the runner when the dashboard is ready and the viewer may see it (or holds a
        pass of the share link ``shared`` for it); else the app."""
        if dashboard.status != "ready" or runtime is None:
            return self.to_app(request)
        if can_view(who.user, dashboard, public_enabled=self.public_enabled):
            shared = ""  # let in as who they are: their tunnels do not hang on the link
        elif not shared:
            return self.to_app(request)
        websocket = wants_websocket(request)
        if websocket and not self._same_origin(request):
            return self.to_app(request)  # it refuses with 403
        viewer = who.user.name if who.user else "anonymous at " + client_address(request, peer)
        if not self.limits.allow_request(viewer, time.monotonic()):
            return self.too_many(f"Too many requests from {viewer}: slow down a little.")
        if websocket and not self.limits.allow_socket(viewer):
            return self.too_many(
                f"{viewer} has {self.limits.sockets} dashboard connections open already: "
                "close a few tabs."
            )
        self.activity.touch(dashboard.key)
        if request.method == b"GET" and self.is_page(request.path):
            self.activity.viewed(dashboard.key)
        credential, straight = self.runners.of(dashboard, runtime)
        to: bytes | None = None
        target: Target = (runtime.host, runtime.port)  # the runner's guard
        if straight is not None and straight.takes(request.path):
            credential, to, target = "", straight.request_target(request), straight.framework
        elif straight is not None:
            target = straight.guard
        head = upstream_head(
            request,
            peer=peer,
            credential=credential,
            viewer=who.user.name if who.user else "",
            websocket=websocket,
            compression=not self.message_limit,
            target=to,
        )
        limit = self.message_limit if websocket else 0
        return Forward(
            head,
            target,
            Tag(dashboard.key, viewer, time.monotonic(), shared),
            filtered=True,
            message_limit=limit,
        )

    def _same_origin(self, request: Request) -> bool:
        """A WebSocket comes from a page of the origin it is served on (scheme included
        on a dashboard origin, whose scheme the admin named)."""
        if not self.origins.isolated:
            return same_origin(*origin_and_host(request))
        origins = request.head.get(b"origin")
        if not origins:
            return True  # not a browser: a script with a token has no origin to forge
        expected = f"{self.origins.scheme}://{host_of(request)}".lower()
        return len(origins) == 1 and origins[0].decode("latin-1").lower() == expected

    def too_many(self, message: str) -> bytes:
        return error_bytes(self.site, 429, message, extra=(("Retry-After", "1"),))

    def to_app(self, request: Request) -> Forward:
        return Forward(app_head(request), self.app_socket)
