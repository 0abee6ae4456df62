"""Straight to the framework, on a connection a local runner's guard hands over.

A request relayed through the guard crosses two relays; for a runner on this machine
(its runtime names a socket for it, runners.direct) the front door asks the guard for a
connection to the framework instead, once per connection it opens (kept for the next
requests like any other), and sends each request's head as the guard would have sent it:
the target moved as the framework's recipe moves it (runners.contract.framework_target),
no runner credential (the gateway's and the guard's alone, never the owner's code's).

What the guard answers itself still goes to it, on a connection it hands over too (never
its TCP port, which another local process could hold once the runner died): its health,
and any path that is not under the prefix as the runner spells it (it refuses those).
Before a connection is used, the kernel says which process listens on that name
(``SO_PEERCRED``): it must be the runner the launcher started (its pid, started when it
was), or the credential is not sent.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

import psutil

from gateway.cache import Cache
from gateway.domain.dashboards import Dashboard, Key
from gateway.domain.runtime import Runtime
from gateway.launchers.base import runner_credential
from relay import passing
from relay.http1 import Request
from runners.contract import DIRECT_FRAMEWORK, DIRECT_GUARD, HEALTH_PATH, framework_target
from runners.recipes import RECIPES


@dataclass(frozen=True, slots=True)
class HandedOver:
    """A relay target (relay.policy.Opener): a connection the runner's guard hands over.
    Hashable: the relay keeps idle connections per target."""

    name: str  # the abstract Unix socket the runner listens on
    wanted: bytes  # a connection to its framework (DIRECT_FRAMEWORK) or guard (DIRECT_GUARD)
    pid: int  # the runner's process
    created: float  # when it started (a pid another process took since is not it)
    credential: str = field(repr=False)

    async def connect(self) -> socket.socket:
        """A connection to the framework, or OSError as a connect would raise it."""
        loop = asyncio.get_running_loop()
        kind = socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        with socket.socket(socket.AF_UNIX, kind) as channel:
            await loop.sock_connect(channel, "\0" + self.name)
            if passing.peer_pid(channel) != self.pid or not self._same_process():
                raise OSError(errno.EPERM, "another process holds the runner's socket")
            await loop.sock_sendall(channel, self.wanted + self.credential.encode())
            message, fds = await passing.receive(channel)
        return passing.connection_from(message, fds, "the runner's guard")

    def _same_process(self) -> bool:
        try:
            started = float(psutil.Process(self.pid).create_time())
        except psutil.Error:
            return False
        return abs(started - self.created) <= 1


@dataclass(frozen=True, slots=True)
class Direct:
    """How requests for one launch go straight to its framework."""

    framework: HandedOver
    guard: HandedOver  # for what only the guard answers: the credential goes there
    prefix: bytes  # the dashboard's, as the runner spells it
    strip_prefix: bool
    rewrites: Mapping[str, str]

    def takes(self, path: bytes) -> bool:
        """Whether a request for ``path`` may skip the guard (it would forward it as is)."""
        return path.startswith(self.prefix) and path[len(self.prefix) :] != _HEALTH

    def request_target(self, request: Request) -> bytes:
        return framework_target(
            request.target, request.path, self.prefix, self.strip_prefix, self.rewrites
        )


_HEALTH = HEALTH_PATH.encode()


class Runners:
    """Per launch, its runner's credential and the direct way to its framework, if its
    runner offers one: computed once."""

    def __init__(self, secret: bytes, prefix: str) -> None:
        self.secret = secret
        self.prefix = prefix
        self._found: Cache[tuple[Key, str], tuple[str, Direct | None]] = Cache(math.inf, 10_000)

    def of(self, dashboard: Dashboard, runtime: Runtime) -> tuple[str, Direct | None]:
        cache_key = (dashboard.key, runtime.launch_id)
        found = self._found.fresh(cache_key)
        if found is not None:
            return found[0]
        credential = runner_credential(self.secret, dashboard, runtime.launch_id)
        runner = credential, direct(dashboard, runtime, credential, self.prefix)
        self._found.put(cache_key, runner)
        return runner


def direct(dashboard: Dashboard, runtime: Runtime, credential: str, prefix: str) -> Direct | None:
    """The direct way to a launch's framework, when its runner offers one."""
    name, pid = runtime.details.get("direct"), runtime.details.get("pid")
    created, recipe = runtime.details.get("created"), RECIPES.get(dashboard.framework)
    if not (isinstance(name, str) and name and isinstance(pid, int) and recipe is not None):
        return None
    if not isinstance(created, (int, float)):
        return None
    url = dashboard.url(prefix)
    return Direct(
        HandedOver(name, DIRECT_FRAMEWORK, pid, float(created), credential),
        HandedOver(name, DIRECT_GUARD, pid, float(created), credential),
        url.encode(),
        recipe.strip_prefix,  # a custom command's never is: the gateway does not ask it
        {url + path: moved for path, moved in recipe.rewrites.items()},
    )
