"""A byte relay for HTTP/1.1: each client connection paired with one upstream connection.

Downstream frames each request (relay.http1), asks its :class:`Policy` to answer it or
forward a (rewritten) head to a target, and forwards it; Upstream (relay.upstream) relays
the target's bytes back, following where each response ends (an idle connection from a
busy one, an accepted WebSocket upgrade from a refused one). The runner's guard uses it
with one target (the framework); the gateway's front door with one target per dashboard
plus its own application, switching a connection's upstream between responses.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Hashable
from typing import cast

from relay.http1 import (
    MAX_HEAD,
    Body,
    HeadError,
    NoBody,
    parse_request,
    refusal,
    request_body,
)
from relay.modes import Mode
from relay.policy import Forward, Policy, Target, Verdict
from relay.pool import IdleUpstreams
from relay.upstream import Upstream
from relay.wsframes import TOO_BIG, MessageLimit, close_frame

WRITE_BUFFER = 256 * 1024
DRAIN_TIMEOUT = 5.0  # a client told its message is too big has this long to close
CONNECT_TIMEOUT = 10.0  # a target whose accept queue is full must not hold a viewer forever


class Relay:
    """A listening socket whose connections are relayed as ``policy`` decides: what the
    runner's guard and the gateway's front door (each a :class:`Policy`) share."""

    def __init__(self, policy: Policy, head_timeout: float, idle_timeout: float) -> None:
        self.policy = policy
        self.head_timeout = head_timeout  # for the first request head of a connection
        self.idle_timeout = idle_timeout  # between a response's end and the next head
        self.connections: set[Downstream] = set()
        self.idle_upstreams = IdleUpstreams()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; return the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Downstream(self), host, port, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def adopt(self, sock: socket.socket) -> None:
        """Relay a connection made elsewhere (one end of a socket pair, runners.direct)."""
        await asyncio.get_running_loop().connect_accepted_socket(lambda: Downstream(self), sock)

    async def stop(self) -> None:
        """Stop listening and close every connection (tunnels too: clients reconnect)."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close()
        self.idle_upstreams.close()
        if self._server is not None:
            await self._server.wait_closed()


class Downstream(asyncio.Protocol):
    """One connection from the gateway: frames requests, forwards them to its upstream."""

    __slots__ = (
        "_connecting", "_deadline", "_deciding", "_deferred", "_frames", "_message_limit",
        "_pending", "_timer", "body", "buffer", "forwarding", "mode", "peer", "policy",
        "relay", "transport", "tunnelling", "upstream",
    )  # fmt: skip

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.policy = relay.policy
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.buffer = bytearray()
        self.mode = Mode.HEAD  # relay.modes
        self.body: Body = NoBody()
        self._deciding: asyncio.Future[Verdict] | None = None
        self._deferred: tuple[Verdict, bytes, bool] | None = None
        self.upstream: Upstream | None = None
        self._pending: list[bytes] = []
        self._connecting: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self.forwarding: Hashable = None  # the tag of the forward under way (its verdict's)
        self.tunnelling = False
        self._message_limit = 0
        self._frames: MessageLimit | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        # Up to WRITE_BUFFER bytes wait here for a slow client before the target is paused:
        # fewer pauses per body (each a round of wake-ups through every relay), still bounded.
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else ""
        self.relay.connections.add(self)
        self._arm(self.relay.head_timeout)

    def _arm(self, seconds: float) -> None:
        """Close the connection unless it is busy again within ``seconds``.

        Called after every response: it moves a deadline; the one timer looks at it
        when it fires (a timer per response would cost more than the response).
        """
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expired)

    def _expired(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._expired)  # moved meanwhile
        elif self.mode == Mode.DRAINING or (
            self.mode == Mode.HEAD and not (self.upstream is not None and self.upstream.busy)
        ):
            self.close()  # no whole request head in time (slow, or idle), or done draining
        else:
            self._arm(self.relay.idle_timeout)  # busy: look again later

    def connection_lost(self, exc: Exception | None) -> None:
        self.mode = Mode.CLOSED
        self.relay.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._deciding is not None:
            self._deciding.cancel()
        self._let_go()
        self._end_tunnel()

    def _end_tunnel(self) -> None:
        if self.tunnelling:
            self.tunnelling = False
            self.policy.tunnel(self.forwarding, False)

    def close(self) -> None:
        self.mode = Mode.CLOSED
        if self.transport is not None:
            self.transport.close()

    # Flow control: when the viewer side cannot take more, stop reading the framework.
    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.mode == Mode.DRAINING:
            return
        if self.mode == Mode.TUNNEL:
            if self._frames is not None and self._frames.over(data):
                self._too_big()
                return
            self.send_up(data)
        elif self.mode == Mode.BODY and not self.buffer:
            taken, done = self._consume_body(data)
            if taken:
                self.send_up(data if taken == len(data) else data[:taken])
            if done:
                self.mode = Mode.HEAD
                if taken < len(data):
                    self.buffer += data[taken:]
                    self._process()
        elif self.mode != Mode.CLOSED:
            self.buffer += data
            self._process()

    def _consume_body(self, data: bytes | bytearray) -> tuple[int, bool]:
        try:
            return self.body.consume(data)
        except HeadError as e:
            self.refuse(e.status, e.reason)
            return 0, False

    def _process(self) -> None:
        while self.buffer and self.mode in (Mode.HEAD, Mode.BODY):
            if self.mode == Mode.BODY:
                taken, done = self._consume_body(self.buffer)
                if taken:
                    self.send_up(bytes(self.buffer[:taken]))
                    del self.buffer[:taken]
                if not done:
                    return
                self.mode = Mode.HEAD
                continue
            end = self.buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.refuse(431, "request head too large")
                return
            block = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            try:
                request = parse_request(block)
                self.body = request_body(request.head)
            except HeadError as e:
                self.refuse(e.status, e.reason)
                return
            decided = self.policy.decide(request, self.peer)
            upgrade = bool(request.head.get(b"Upgrade"))
            if isinstance(decided, asyncio.Future):
                self.mode, self._deciding = Mode.DECIDING, decided
                assert self.transport is not None
                self.transport.pause_reading()
                decided.add_done_callback(
                    functools.partial(self._decided, method=request.method, upgrade=upgrade)
                )
                return
            self._route(decided, request.method, upgrade)

    def _decided(self, future: asyncio.Future[Verdict], method: bytes, upgrade: bool) -> None:
        self._deciding = None
        if self.mode == Mode.CLOSED or future.cancelled():
            return
        error = future.exception()
        verdict = refusal(500, "Internal Server Error") if error else future.result()
        self.mode = Mode.HEAD
        self._route(verdict, method, upgrade)
        if self.mode in (Mode.HEAD, Mode.BODY) and self.transport is not None:
            self.transport.resume_reading()
            if self.buffer:
                self._process()

    def _route(self, verdict: Verdict, method: bytes, upgrade: bool) -> None:
        if (
            self.upstream is not None
            and self.upstream.busy
            and not (isinstance(verdict, Forward) and verdict.target == self.upstream.target)
        ):
            # Pipelined behind responses still coming from another target (or to be
            # answered here): wait for them, then carry on with this request.
            self._deferred, self.mode = (verdict, method, upgrade), Mode.WAIT
            assert self.transport is not None
            self.transport.pause_reading()
            return
        self._dispatch(verdict, method, upgrade)

    def _dispatch(self, verdict: Verdict, method: bytes, upgrade: bool) -> None:
        if not isinstance(verdict, Forward):
            self.finish(verdict)
            return
        if self.upstream is not None and self.upstream.target != verdict.target:
            self._detach()
        self.forwarding, self._message_limit = verdict.tag, verdict.message_limit
        if self.upstream is None:
            self._open(verdict.target, verdict.filtered)
        self.send_up(verdict.head, method, upgrade)
        if upgrade:
            # Hold whatever follows until the target accepts or refuses the upgrade.
            self.mode = Mode.UPGRADE
            assert self.transport is not None
            self.transport.pause_reading()
            return
        self.mode = Mode.HEAD if isinstance(self.body, NoBody) else Mode.BODY

    def _detach(self) -> None:
        """Let go of an idle upstream connection to another target."""
        self._pending.clear()
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._let_go()

    def _let_go(self) -> None:
        """The upstream connection: kept for another client if it is idle, else closed."""
        old, self.upstream = self.upstream, None
        if old is None or self.relay.idle_upstreams.park(old):
            return
        old.detached = True
        if old.transport is not None:
            old.transport.close()

    def _open(self, target: Target, filtered: bool) -> None:
        kept = self.relay.idle_upstreams.take(target)
        if kept is not None:
            kept.down, kept.filtered, kept.detached = self, filtered, False
            self.upstream = kept
            return
        self.upstream = Upstream(self, target, filtered)
        self._connecting = asyncio.ensure_future(self._connect(self.upstream))

    def send_up(self, data: bytes, method: bytes | None = None, upgrade: bool = False) -> None:
        if self.upstream is None:
            return  # let go of (the target closed): the connection is closing
        if method is not None:
            self.upstream.expect(method, upgrade)
        if self.upstream.ready and self.upstream.transport is not None:
            self.upstream.transport.write(data)
        else:
            self._pending.append(data)

    async def _connect(self, upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        target = upstream.target
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if isinstance(target, str):
                    await loop.create_unix_connection(lambda: upstream, target)
                elif isinstance(target, tuple):
                    await loop.create_connection(lambda: upstream, *target)
                else:
                    await loop.create_connection(lambda: upstream, sock=await target.connect())
        except (OSError, TimeoutError) as e:
            why = getattr(e, "strerror", None) or f"no connection within {CONNECT_TIMEOUT:.0f} s"
            self.finish(self.policy.unreachable(why, self.forwarding))
            return
        assert upstream.transport is not None
        # Bytes that arrived while connecting go first, in order; then writes go straight through.
        upstream.transport.writelines(self._pending)
        self._pending.clear()
        upstream.ready = True

    def upgrade_resolved(self, accepted: bool) -> None:
        """The target answered an upgrade: tunnel from now on, or go back to HTTP."""
        assert self.transport is not None
        self.mode = Mode.TUNNEL if accepted else Mode.HEAD
        if accepted:
            self.tunnelling = True
            self.policy.tunnel(self.forwarding, True)
            if self._message_limit:
                self._frames = MessageLimit(self._message_limit)
        self.transport.resume_reading()
        if self.buffer:
            if accepted:
                early, self.buffer = bytes(self.buffer), bytearray()
                self.data_received(early)
            else:
                self._process()

    def responses_done(self) -> None:
        """Every forwarded request has its whole response: a deferred request may go now."""
        if self.mode == Mode.WAIT and self._deferred is not None:
            self._resume()
        elif self.mode == Mode.HEAD and not self.buffer:
            self._arm(self.relay.idle_timeout)

    def _resume(self) -> None:
        assert self._deferred is not None and self.transport is not None
        verdict, method, upgrade = self._deferred
        self._deferred = None
        self._dispatch(verdict, method, upgrade)
        if self.mode in (Mode.HEAD, Mode.BODY):
            self.transport.resume_reading()
            if self.buffer:
                self._process()

    def upstream_closed(self, complete: bool) -> None:
        """The target closed its side; keep the client's connection only between responses."""
        self.upstream = None
        if self.mode == Mode.WAIT and complete and self._deferred is not None:
            self._resume()
        elif not complete or self.mode in (Mode.TUNNEL, Mode.UPGRADE, Mode.BODY, Mode.WAIT):
            self.close()

    def _too_big(self) -> None:
        """A client's WebSocket message over the limit: Close 1009 to it, the tunnel ends.
        What it still sends is dropped until it closes (at most DRAIN_TIMEOUT): closing
        with its bytes unread would reset the connection, which the hub's proxy answers by
        writing an HTTP 503 into the stream. (The Close may land inside an app's frame:
        only this client's stream is garbled, and it ends anyway.)"""
        assert self.transport is not None
        self.transport.write(close_frame(TOO_BIG, "message too big"))
        self.mode = Mode.DRAINING
        old, self.upstream = self.upstream, None
        if old is not None:
            old.detached = True
            if old.transport is not None:
                old.transport.close()
        self._end_tunnel()
        self._arm(DRAIN_TIMEOUT)

    def refuse(self, status: int, reason: str) -> None:
        self.finish(refusal(status, reason))

    def finish(self, response: bytes) -> None:
        if self.transport is not None and self.mode != Mode.CLOSED:
            self.transport.write(response)
        self.close()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()
