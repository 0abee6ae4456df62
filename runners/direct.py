"""Direct connections: on the gateway's own machine, the guard gives the gateway a connection to
the framework instead of relaying every byte of it.

Through the guard a request crosses two relays, the gateway's and the guard's, and each
costs about what a fast app does per request (bench/RESULTS.md). A local runner also
listens on an abstract Unix socket named in its launch spec (``spec.direct``); for each
connection it opens, the gateway sends the launch's credential there, and the guard
connects to the framework as it would for a request (through the door of a private
network, runners.netns) and passes that connection over as a descriptor: ``ok``, or
``e<errno>`` when it is not ready or the framework does not answer. The gateway then sends
each request as the guard would have (runners.contract.framework_target, no credential),
having checked that the name's listener is the runner it started (``SO_PEERCRED``).

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
from runners.contract import DIRECT_MAX_MESSAGE
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
                presented = await loop.sock_recv(client, DIRECT_MAX_MESSAGE)
            framework = self.guard.framework()
            if not self.guard.admits(presented):
                client.send(b"e%d" % errno.EACCES)
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
