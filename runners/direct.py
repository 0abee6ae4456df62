"""Direct connections: on the gateway's own machine, the guard gives the gateway a connection to
the framework instead of relaying every byte of it.

Through the guard a request crosses two relays, the gateway's and the guard's, and each
costs about what a fast app does per request (bench/RESULTS.md). A local runner also
listens on an abstract Unix socket named in its launch spec (``spec.direct``); for each
connection it opens, the gateway sends what it wants (``f`` or ``g``) and the launch's
credential there. For ``f`` the guard connects to the framework as it would for a request
(through the door of a private network, runners.netns) and passes that connection over as
a descriptor: ``ok``, or ``e<errno>`` when it is not ready or the framework does not
answer; the gateway then sends each request as the guard would have
(runners.contract.framework_target, no credential). For ``g`` it passes one end of a
socket pair its own relay serves: what the guard answers itself (its health, what it
refuses) goes there, so the gateway sends the credential over no TCP port, which a local
process could take over once the runner died (the review of direct connections). The
gateway first checks that the name's listener is the runner it started (``SO_PEERCRED``,
and that process's start time).

An abstract name belongs to the runner's network namespace: a framework in a private
network cannot reach it; a process on the host's network can, and gets nothing without
the credential, as at the guard's port.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket

from relay.policy import Target
from runners.contract import DIRECT_FRAMEWORK, DIRECT_GUARD, DIRECT_MAX_MESSAGE
from runners.guard import Guard

ANSWER_TIMEOUT = 5.0  # a client that does not say its credential in time is dropped


async def connect(target: Target) -> socket.socket:
    """A new connection to ``target`` (the guard's upstream), as a plain socket."""
    if isinstance(target, (tuple, str)):
        family = socket.AF_INET if isinstance(target, tuple) else socket.AF_UNIX
        connection = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        connection.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(connection, target)
        except BaseException:
            connection.close()
            raise
        return connection
    return await target.connect()


class DirectListener:
    """The guard's second listener, for its gateway alone."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._listener: socket.socket | None = None
        self._serving: asyncio.Task[None] | None = None
        self._answering: set[asyncio.Task[None]] = set()

    def start(self, name: str) -> None:
        """Listen on the abstract Unix socket ``name`` (OSError when it is taken)."""
        listener = socket.socket(
            socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        )
        try:
            listener.bind("\0" + name)
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._serving = asyncio.ensure_future(self._serve(listener))

    async def stop(self) -> None:
        tasks = [t for t in (self._serving, *self._answering) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _serve(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(listener)
            except OSError:  # out of descriptors for a moment: the gateway tries again
                await asyncio.sleep(0.05)
                continue
            task = asyncio.ensure_future(self._answer(client))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _answer(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        with client, contextlib.suppress(OSError, TimeoutError):
            client.setblocking(False)
            async with asyncio.timeout(ANSWER_TIMEOUT):
                message = await loop.sock_recv(client, DIRECT_MAX_MESSAGE)
            wanted, presented = message[:1], message[1:]
            framework = self.guard.framework()
            if not self.guard.admits(presented) or wanted not in (DIRECT_FRAMEWORK, DIRECT_GUARD):
                client.send(b"e%d" % errno.EACCES)
            elif wanted == DIRECT_GUARD:  # its health, what it refuses: never over TCP
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                with theirs:
                    await self.guard.relay.adopt(ours)
                    socket.send_fds(client, [b"ok"], [theirs.fileno()])
            elif framework is None:
                client.send(b"e%d" % errno.ECONNREFUSED)  # not ready: the gateway says 502
            else:
                try:
                    async with asyncio.timeout(ANSWER_TIMEOUT):
                        connection = await connect(framework)
                except OSError as e:
                    client.send(b"e%d" % (e.errno or errno.ECONNREFUSED))
                except TimeoutError:
                    client.send(b"e%d" % errno.ETIMEDOUT)
                else:
                    with connection:
                        socket.send_fds(client, [b"ok"], [connection.fileno()])
