"""Connections passed between processes as descriptors (``SCM_RIGHTS``), on an event loop.

Two places hand a connected socket to another process instead of relaying its bytes:
the door into a framework's private network hands the runner's guard a connection to
the framework (runners.netns), and the guard hands the gateway one (runners.direct), so
that a request crosses one relay instead of two. Both ends read the answer the same way.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct

_UCRED = struct.Struct("3i")  # pid, uid, gid


async def receive(channel: socket.socket, size: int = 64) -> tuple[bytes, list[int]]:
    """One message of at most ``size`` bytes from the non-blocking ``channel``, and the
    descriptor that came with it, if any (close-on-exec). Several are refused: all closed."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, size, 1, socket.MSG_CMSG_CLOEXEC)
            return message, fds
        except BlockingIOError:
            readable = loop.create_future()
            loop.add_reader(channel, readable.set_result, None)
            try:
                await readable
            finally:
                loop.remove_reader(channel)


def connection_from(message: bytes, fds: list[int], what: str) -> socket.socket:
    """The connection an ``ok`` answer carried; else OSError as a connect would raise it
    (``e<errno>``), or saying what ``what`` answered instead."""
    if message == b"ok" and len(fds) == 1:
        return socket.socket(fileno=fds[0])
    for fd in fds:
        os.close(fd)
    if message.startswith(b"e") and message[1:].isdigit():
        code = int(message[1:])
        raise OSError(code, os.strerror(code))
    raise OSError(f"{what} answered {message[:64]!r}")


def peer_pid(channel: socket.socket) -> int:
    """The process that listens at the other end of a connected Unix socket (the kernel's
    word, taken when it called listen: nobody else can bind the name meanwhile)."""
    found = channel.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, _, _ = _UCRED.unpack(found)
    return int(pid)
