"""What a relay (relay.server) asks of its owner, and the answers it takes.

The owner — the runner's guard, or the gateway's front door — is a :class:`Policy`:
for each request head it returns a :data:`Verdict`, either a complete answer (bytes,
sent before the connection closes) or a :class:`Forward` to a target.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from relay.http1 import Request


class Opener(Protocol):
    """A target reached another way: a connected socket on demand (runners.netns)."""

    async def connect(self) -> socket.socket: ...


Target = tuple[str, int] | str | Opener  # (host, port), the path of a Unix socket, an Opener


@dataclass(frozen=True, slots=True)
class Forward:
    """Send ``head`` (then the request's body) to ``target``; ``tag`` names it to the policy.

    ``filtered``: the target's response heads pass through the policy's ``response_head``.
    ``message_limit``: when the request becomes a WebSocket, the largest message the client
    may send through it (0: no limit); a larger one ends the tunnel with Close 1009.
    """

    head: bytes
    target: Target
    tag: Hashable = None
    filtered: bool = False
    message_limit: int = 0


Verdict = bytes | Forward


class Policy(Protocol):
    """What a relay asks of its owner, once per request head. An owner subclasses it to
    take the defaults of the hooks it does not need (``tunnel``, ``response_head``)."""

    def decide(self, request: Request, peer: str) -> Verdict | asyncio.Future[Verdict]:
        """A complete answer (sent, then the connection closes), or where to forward.

        A future when the answer needs I/O: the connection waits for it, reading nothing.
        """

    def unreachable(self, why: str, tag: Hashable) -> bytes:
        """The answer when the target (named ``tag`` by the verdict) cannot be reached."""

    def tunnel(self, tag: Hashable, opened: bool) -> None:
        """A forwarded upgrade was accepted (``opened``) or its tunnel has ended."""
        return None

    def response_head(self, block: bytes, tag: Hashable) -> bytes:
        """A response head (without its blank line) as it should reach the client; ``tag``
        names the forward it answers (as the verdict named it); as it came by default."""
        return block
