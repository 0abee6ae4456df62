"""Where a relayed connection is in its life (relay.server, relay.upstream)."""

from __future__ import annotations

import enum


class Mode(enum.Enum):
    HEAD = "head"  # reading the next request (or response) head
    DECIDING = "deciding"  # the policy's answer needs I/O: reading nothing meanwhile
    BODY = "body"  # relaying a body whose end is known from its framing
    UPGRADE = "upgrade"  # an upgrade forwarded: waiting for the target's answer
    TUNNEL = "tunnel"  # an accepted upgrade: bytes both ways, no more framing
    WAIT = "wait"  # the next request waits for the current upstream's last response
    DRAINING = "draining"  # a refusal sent: reading what the client still sends, briefly
    CLOSED = "closed"
