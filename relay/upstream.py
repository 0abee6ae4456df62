"""The upstream half of the byte relay (relay.server): the connection to the target.

It relays the target's bytes back to its :class:`~relay.server.Downstream` while
following where each response ends — so that the pair can tell an idle connection
from a busy one, and an accepted WebSocket upgrade (a tunnel from then on) from a
refused one — and, for ``filtered`` targets, passes each response head through the
policy before the client sees it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable
from typing import Protocol, cast

from relay.http1 import (
    MAX_HEAD,
    Body,
    HeadError,
    NoBody,
    response_body,
    response_problem,
    status_code,
)
from relay.modes import Mode
from relay.policy import Policy, Target


class Client(Protocol):
    """What an upstream tells, and asks of, the client connection it answers
    (relay.server.Downstream)."""

    transport: asyncio.Transport | None
    mode: Mode
    policy: Policy
    forwarding: Hashable

    def responses_done(self) -> None: ...
    def upstream_closed(self, complete: bool) -> None: ...
    def upgrade_resolved(self, accepted: bool) -> None: ...
    def close(self) -> None: ...


class Parking(Protocol):
    """Where an idle upstream waits for another client (relay.pool.IdleUpstreams)."""

    def discard(self, upstream: Upstream) -> None: ...


def closes_connection(block: bytes) -> bool:
    """Whether a response head announces that the connection ends after it."""
    if block.startswith(b"HTTP/1.0"):
        return b"\nconnection: keep-alive" not in block.lower()
    return b"\nconnection: close" in block.lower()


class Upstream(asyncio.Protocol):
    """The paired connection to the framework: relays responses, tracking where each ends."""

    __slots__ = (
        "body", "detached", "down", "filtered", "head", "inflight", "mode", "parked", "ready",
        "reusable", "target", "transport",
    )  # fmt: skip

    def __init__(self, downstream: Client, target: Target, filtered: bool) -> None:
        self.down = downstream
        self.target = target
        self.filtered = filtered
        self.detached = False  # let go by its downstream: nothing more to relay or report
        self.transport: asyncio.Transport | None = None
        self.inflight: collections.deque[tuple[bytes, bool]] = collections.deque()
        self.head = bytearray()
        self.body: Body | None = NoBody()  # None: until the connection closes
        self.mode = Mode.HEAD  # HEAD, BODY or TUNNEL
        self.ready = False  # connected and the bytes queued meanwhile flushed
        self.reusable = True  # the last response did not announce the connection's end
        self.parked: Parking | None = None  # kept idle for another client

    def expect(self, method: bytes, upgrade: bool) -> None:
        self.inflight.append((method, upgrade))

    @property
    def busy(self) -> bool:
        """Some forwarded request has not had its whole response yet."""
        return bool(self.inflight) or self.mode != Mode.HEAD or bool(self.head)

    def _response_ended(self) -> None:
        self.mode = Mode.HEAD
        if not self.inflight and not self.head:
            self.down.responses_done()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.parked is not None:
            self.parked.discard(self)
        if self.detached:
            return
        complete = self.mode == Mode.HEAD and not self.head and not self.inflight
        if self.mode == Mode.BODY and self.body is None:
            complete = True  # a close-delimited body has just ended
        self.down.upstream_closed(complete)

    def pause_writing(self) -> None:
        if self.down.transport is not None:
            self.down.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.down.transport is not None and self.down.mode != Mode.UPGRADE:
            self.down.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.parked is not None:
            self.parked.discard(self)  # bytes nobody asked for: not reusable
            return
        down = self.down.transport
        if down is None or self.down.mode == Mode.CLOSED or self.detached:
            return
        if self.mode == Mode.TUNNEL:
            down.write(data)
            return
        out: list[bytes] | None = None
        if not self.filtered:
            down.write(data)
        else:
            out = []  # what reaches the client, written at once (one send, not one per part)
        try:
            self._track(data, out)
        except HeadError:
            self.down.close()
        finally:
            self._flush(out)

    def _flush(self, out: list[bytes] | None) -> None:
        if out:
            if self.down.transport is not None and self.down.mode != Mode.CLOSED:
                self.down.transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def _track(self, data: bytes, out: list[bytes] | None) -> None:
        """Follow response boundaries; with ``out``, collect what to write (heads filtered).

        ``out`` is flushed before the downstream hears of a response's end or an upgrade's
        outcome, so that anything it writes then comes after these bytes.
        """
        view: bytes = data
        while view:
            if self.mode == Mode.BODY:
                if self.body is None:
                    if out is not None:
                        out.append(view)
                    return
                taken, done = self.body.consume(view)
                if out is not None and taken:
                    out.append(view if taken == len(view) else view[:taken])
                view = view[taken:]
                if done:
                    self._flush(out)
                    self._response_ended()
                continue
            if self.mode == Mode.TUNNEL:
                if out is not None:
                    out.append(view)
                return
            if self.head:
                self.head += view
                view = bytes(self.head)
                self.head.clear()
            end = view.find(b"\r\n\r\n")
            if end < 0:
                if len(view) > MAX_HEAD:
                    raise HeadError(502, "response head too large")
                self.head += view
                return
            block, view = view[:end], view[end + 4 :]
            if not self.inflight:
                # Nobody asked: the browser would pair it with the next request it sends,
                # the relay with none (a response riding unfiltered in another's body).
                raise HeadError(502, "a response to no request")
            code = status_code(block)
            if code == 101 and not self.inflight[0][1]:
                # To a request that asked no upgrade a browser takes it for an interim
                # answer and waits for another: the two would pair what follows with other
                # requests (a response riding unfiltered in another's body).
                raise HeadError(502, "101 Switching Protocols to a request that asked none")
            if out is not None:
                problem = response_problem(block)
                if problem is not None:  # refused, not passed on: no filter saw all of it
                    raise HeadError(502, problem)
                head = self.down.policy.response_head(block, self.down.forwarding)
                out.append(head + b"\r\n\r\n")
            if 100 <= code < 200 and code != 101:
                continue  # an interim response (100 Continue); the real one follows
            method, upgrade = self.inflight.popleft()
            if upgrade:
                accepted = code == 101
                if accepted:
                    self.mode = Mode.TUNNEL
                self._flush(out)
                self.down.upgrade_resolved(accepted)
                if accepted:
                    if out is not None and view:
                        out.append(view)  # the first frames, in the same read as the 101
                    return
            self.reusable = not closes_connection(block)
            self.body = response_body(block, method)
            self.mode = Mode.BODY
            if isinstance(self.body, NoBody):
                self._flush(out)
                self._response_ended()
