"""The guard: the runner's only public listener, and what it lets through to the framework.

Each connection from the gateway is paired with one connection to the
framework. The guard reads every request head: it refuses (403) a request
without the per-launch credential (``X-Podium-Credential``), removes that
header, answers ``<prefix>_podium/health`` itself, and forwards the rest
unchanged (``Host``, ``Origin``, cookies, ``Connection``/``Upgrade``), so the
framework builds public links and its same-origin checks compare public
values. Bodies and responses pass through as bytes, never held whole; after a
``101 Switching Protocols`` the connection becomes a plain tunnel (WebSocket
frames, close codes and subprotocols untouched). Why bytes and not a
framework: the guard sits on every request of every viewer, and a relay that
only frames messages costs a fraction of a full HTTP client and server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from relay.http1 import Request, refusal, simple_response
from relay.policy import Forward, Policy, Target, Verdict
from relay.server import Relay
from runners.contract import CREDENTIAL_HEADER, HEALTH_PATH, framework_target

HEAD_TIMEOUT = 30.0  # a connection that sends no complete request head in time is dropped
IDLE_TIMEOUT = 900.0  # longer than the gateway's own, which closes its side first
_CREDENTIAL = CREDENTIAL_HEADER.encode()


@dataclass
class Status:
    """What the health endpoint reports: one of preparing, starting, ready, stopping, failed."""

    state: str = "preparing"
    reason: str = "preparing the source"
    since: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, state: str, reason: str) -> None:
        self.state, self.reason, self.since = state, reason, time.monotonic()
        self.changed.set()
        self.changed = asyncio.Event()


def long_poll(target: bytes) -> float:
    """``?wait=<seconds>`` of a health request (at most 30), else 0."""
    _, _, query = target.partition(b"?")
    for pair in query.split(b"&"):
        key, _, value = pair.partition(b"=")
        if key == b"wait":
            try:
                return min(30.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 0.0


class Guard(Policy):
    """The guard's policy, over a relay of its own."""

    def __init__(self, *, prefix: str, credential: str) -> None:
        self.relay = Relay(self, HEAD_TIMEOUT, IDLE_TIMEOUT)
        self.prefix = prefix
        self.status = Status()
        self.upstream: Target | None = None  # the framework, once it starts
        self.strip_prefix = False
        self.rewrites: Mapping[str, str] = {}
        self.layer: Mapping[str, object] | None = None  # requirements.txt's, once made
        self._prefix = prefix.encode()
        self._health = (prefix + HEALTH_PATH).encode()
        self._credential = credential.encode()

    async def start(self, host: str, port: int) -> int:
        return await self.relay.start(host, port)

    async def stop(self) -> None:
        await self.relay.stop()

    def health(self) -> bytes:
        ready = self.status.state == "ready"
        said: dict[str, object] = {
            "ready": ready,
            "state": self.status.state,
            "reason": self.status.reason,
            "seconds": round(time.monotonic() - self.status.since, 1),
        }
        if self.layer is not None:  # a hash and a date: the manage page's, where no file is
            said["layer"] = self.layer
        body = json.dumps(said)
        status, reason = (200, "OK") if ready else (503, "Service Unavailable")
        extra = (("Cache-Control", "no-store"),)
        return simple_response(status, reason, body, extra, content_type="application/json")

    async def health_after_change(self, seconds: float) -> bytes:
        """The health answer once the state changes, or after ``seconds``: the gateway
        follows a start with one long poll instead of polling on a timer."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.status.changed.wait(), seconds)
        return self.health()

    def admits(self, presented: bytes) -> bool:
        """Whether ``presented`` is this launch's credential (the gateway's alone)."""
        return hmac.compare_digest(presented, self._credential)

    def framework(self) -> Target | None:
        """Where the framework listens, once it is ready."""
        return self.upstream if self.status.state == "ready" else None

    def decide(self, request: Request, peer: str) -> bytes | Forward | asyncio.Future[Verdict]:
        """Either a response to send back (and close), or the head to forward to the framework."""
        path = request.path
        if path == self._health:
            wait = long_poll(request.target)
            if wait and self.status.state in ("preparing", "starting"):
                return asyncio.ensure_future(self.health_after_change(wait))
            return self.health()
        presented = request.head.get(_CREDENTIAL)
        if len(presented) != 1 or not self.admits(presented[0]):
            return refusal(403, "Forbidden: this runner only answers its gateway")
        if path == self._prefix[:-1]:
            query = request.target[len(path) :]
            location = (self.prefix + query.decode("latin-1")).replace("\r", "").replace("\n", "")
            return simple_response(308, "Permanent Redirect", "", (("Location", location),))
        if not path.startswith(self._prefix):
            return refusal(404, f"Not Found: outside {self.prefix}")
        if self.status.state != "ready" or self.upstream is None:
            return refusal(503, self.status.reason, (("Retry-After", "1"),))
        target = framework_target(
            request.target, path, self._prefix, self.strip_prefix, self.rewrites
        )
        head = request.serialize(target, request.head.without(_CREDENTIAL))
        return Forward(head, self.upstream)

    def unreachable(self, why: str, tag: Hashable) -> bytes:
        return refusal(502, f"Bad Gateway: the framework did not answer ({why})")
