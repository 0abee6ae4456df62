"""The guard's byte relay: one connection from the gateway paired with one to the framework.

Downstream frames each request (runners.http1), asks the :class:`~runners.guard.Guard`
what to do with it, and forwards it; Upstream relays the framework's bytes back while
following where each response ends, so that the pair can tell an idle connection from a
busy one and an accepted WebSocket upgrade (a tunnel from then on) from a refused one.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, cast

from runners.http1 import (
    MAX_HEAD,
    Body,
    HeadError,
    NoBody,
    parse_request,
    refusal,
    request_body,
    response_body,
    status_code,
)

if TYPE_CHECKING:
    from runners.guard import Guard

CONNECT_TIMEOUT = 10.0  # a framework whose accept queue is full must not hold a viewer forever


class Downstream(asyncio.Protocol):
    """One connection from the gateway: frames requests, forwards them to its upstream."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.mode = "head"  # head | body | upgrade | tunnel | wait | closed
        self.body: Body = NoBody()
        self._deferred = b""
        self.upstream: Upstream | None = None
        self._pending: list[bytes] = []
        self._connecting: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.guard.connections.add(self)
        self._timer = asyncio.get_running_loop().call_later(self.guard.head_timeout, self.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.mode = "closed"
        self.guard.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()

    def close(self) -> None:
        self.mode = "closed"
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
        if self.mode == "tunnel":
            self.send_up(data)
        elif self.mode == "body" and not self.buffer:
            taken, done = self._consume_body(data)
            if taken:
                self.send_up(data if taken == len(data) else data[:taken])
            if done:
                self.mode = "head"
                if taken < len(data):
                    self.buffer += data[taken:]
                    self._process()
        elif self.mode != "closed":
            self.buffer += data
            self._process()

    def _consume_body(self, data: bytes | bytearray) -> tuple[int, bool]:
        try:
            return self.body.consume(data)
        except HeadError as e:
            self.refuse(e.status, e.reason)
            return 0, False

    def _process(self) -> None:
        while self.buffer and self.mode in ("head", "body"):
            if self.mode == "body":
                taken, done = self._consume_body(self.buffer)
                if taken:
                    self.send_up(bytes(self.buffer[:taken]))
                    del self.buffer[:taken]
                if not done:
                    return
                self.mode = "head"
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
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            answer, head = self.guard.decide(request)
            if answer is not None:
                if self.upstream is not None and self.upstream.busy:
                    # Pipelined behind forwarded requests: answer after their responses.
                    self._deferred, self.mode = answer, "wait"
                    assert self.transport is not None
                    self.transport.pause_reading()
                else:
                    self.finish(answer)
                return
            upgrade = bool(request.head.get(b"Upgrade"))
            self.send_up(head, request.method, upgrade)
            if upgrade:
                # Hold whatever follows until the framework accepts or refuses the upgrade.
                self.mode = "upgrade"
                assert self.transport is not None
                self.transport.pause_reading()
                return
            self.mode = "head" if isinstance(self.body, NoBody) else "body"

    def send_up(self, data: bytes, method: bytes | None = None, upgrade: bool = False) -> None:
        if self.upstream is None:
            self.upstream = Upstream(self)
            self._connecting = asyncio.ensure_future(self._connect(self.upstream))
        if method is not None:
            self.upstream.expect(method, upgrade)
        if self.upstream.ready and self.upstream.transport is not None:
            self.upstream.transport.write(data)
        else:
            self._pending.append(data)

    async def _connect(self, upstream: Upstream) -> None:
        assert self.guard.upstream is not None
        host, port = self.guard.upstream
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.create_connection(lambda: upstream, host, port)
        except (OSError, TimeoutError) as e:
            why = getattr(e, "strerror", None) or f"no connection within {CONNECT_TIMEOUT:.0f} s"
            self.finish(refusal(502, f"Bad Gateway: the framework did not answer ({why})"))
            return
        assert upstream.transport is not None
        # Bytes that arrived while connecting go first, in order; then writes go straight through.
        upstream.transport.writelines(self._pending)
        self._pending.clear()
        upstream.ready = True

    def upgrade_resolved(self, accepted: bool) -> None:
        """The framework answered an upgrade: tunnel from now on, or go back to HTTP."""
        assert self.transport is not None
        self.mode = "tunnel" if accepted else "head"
        self.transport.resume_reading()
        if self.buffer:
            if accepted:
                self.send_up(bytes(self.buffer))
                self.buffer.clear()
            else:
                self._process()

    def responses_done(self) -> None:
        """Every forwarded request has its whole response: a deferred answer may go now."""
        if self.mode == "wait":
            self.finish(self._deferred)

    def upstream_closed(self, complete: bool) -> None:
        """The framework closed its side; keep the viewer's connection only between responses."""
        self.upstream = None
        if self.mode == "wait" and complete:
            self.finish(self._deferred)
        elif not complete or self.mode in ("tunnel", "upgrade", "body", "wait"):
            self.close()

    def refuse(self, status: int, reason: str) -> None:
        self.finish(refusal(status, reason))

    def finish(self, response: bytes) -> None:
        if self.transport is not None and self.mode != "closed":
            self.transport.write(response)
        self.close()
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


class Upstream(asyncio.Protocol):
    """The paired connection to the framework: relays responses, tracking where each ends."""

    def __init__(self, downstream: Downstream) -> None:
        self.down = downstream
        self.transport: asyncio.Transport | None = None
        self.inflight: collections.deque[tuple[bytes, bool]] = collections.deque()
        self.head = bytearray()
        self.body: Body | None = NoBody()  # None: until the connection closes
        self.mode = "head"  # head | body | tunnel
        self.ready = False  # connected and the bytes queued meanwhile flushed

    def expect(self, method: bytes, upgrade: bool) -> None:
        self.inflight.append((method, upgrade))

    @property
    def busy(self) -> bool:
        """Some forwarded request has not had its whole response yet."""
        return bool(self.inflight) or self.mode != "head" or bool(self.head)

    def _response_ended(self) -> None:
        self.mode = "head"
        if not self.inflight and not self.head:
            self.down.responses_done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        complete = self.mode == "head" and not self.head and not self.inflight
        if self.mode == "body" and self.body is None:
            complete = True  # a close-delimited body has just ended
        self.down.upstream_closed(complete)

    def pause_writing(self) -> None:
        if self.down.transport is not None:
            self.down.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.down.transport is not None and self.down.mode != "upgrade":
            self.down.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        down = self.down.transport
        if down is None or self.down.mode == "closed":
            return
        down.write(data)
        if self.mode != "tunnel":
            try:
                self._track(data)
            except HeadError:
                self.down.close()

    def _track(self, data: bytes) -> None:
        """Follow response boundaries in bytes already forwarded."""
        view: bytes | bytearray = data
        while view:
            if self.mode == "body":
                if self.body is None:
                    return
                taken, done = self.body.consume(view)
                view = view[taken:]
                if done:
                    self._response_ended()
                continue
            if self.mode == "tunnel":
                return
            self.head += view
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_HEAD:
                    raise HeadError(502, "response head too large")
                return
            block = bytes(self.head[:end])
            rest = bytes(self.head[end + 4 :])
            self.head.clear()
            code = status_code(block)
            if 100 <= code < 200 and code != 101:
                view = rest  # an interim response (100 Continue); the real one follows
                continue
            method, upgrade = self.inflight.popleft() if self.inflight else (b"GET", False)
            if upgrade:
                accepted = code == 101
                if accepted:
                    self.mode = "tunnel"
                self.down.upgrade_resolved(accepted)
                if accepted:
                    return
            self.body = response_body(block, method)
            self.mode = "body"
            view = rest
            if isinstance(self.body, NoBody):
                self._response_ended()
