"""The runner's answer to its sandboxed framework's ``listen()`` calls: TCP only on the
framework's own port.

Over plain http a browser sends a site's cookies to every port of its host, so a second
listening socket on the server would collect the viewers' cookies. Landlock checks
``bind()`` (ABI 4), but a socket that listens unbound gets a free port from the kernel
past it. The sandbox's seccomp filter (runners.seccomp) turns each ``listen()`` into a
notification to the runner, which takes a copy of the very socket (``pidfd_getfd``),
looks at its address and, when it may listen, calls ``listen()`` on it itself: the check
and the act are on the same socket, so no other thread of the framework can swap it in
between. Unix and other non-TCP sockets listen as they ask (Landlock scopes abstract Unix
sockets; pathname ones are files). Anything that cannot be checked is refused.

Notifications come from the framework and everything it starts (kernels, workers); the
runner answers them in a thread of its own, so a blocked event loop delays no listen.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
import select
import socket
import threading
from collections.abc import Callable, Collection

from runners.seccomp import install_listen_filter

_RECV, _SEND, _ID_VALID = 0xC0502100, 0xC0182101, 0x40082102  # SECCOMP_IOCTL_NOTIF_*
_PIDFD_GETFD = 438  # the same on every architecture


class _Data(ctypes.Structure):
    _fields_ = (
        ("nr", ctypes.c_int32),
        ("arch", ctypes.c_uint32),
        ("ip", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    )


class _Notif(ctypes.Structure):
    _fields_ = (
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("data", _Data),
    )


class _Resp(ctypes.Structure):
    _fields_ = (
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    )


def may_listen(family: int, address: object, ports: Collection[int]) -> bool:
    """TCP (IPv4, IPv6) on a loopback address and one of ``ports``; any other kind of
    socket. (The framework's own port on another address would answer other machines
    without the guard.)"""
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True
    if not (isinstance(address, tuple) and len(address) >= 2):
        return False
    host, port = address[0], address[1]
    try:
        loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False
    return loopback and port in ports


def _backlog(raw: int) -> int:
    value = raw & 0xFFFFFFFF  # listen()'s int, as the kernel reads it
    return value - (1 << 32) if value >= 1 << 31 else value


def thread_group(tid: int) -> int:
    """The process a thread belongs to (a notification names the calling thread)."""
    with open(f"/proc/{tid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("Tgid:"):
                return int(line.split()[1])
    raise ProcessLookupError(tid)


def answer(
    libc: ctypes.CDLL,
    tid: int,
    fd: int,
    backlog: int,
    ports: Collection[int],
    still_waiting: Callable[[], bool],
) -> int:
    """Listen on the framework's ``fd`` for it if it may: 0, or the errno to give it.
    ``still_waiting`` says the call is still pending, so the process found is the
    caller's and not another that took its number since."""
    try:
        pidfd = os.pidfd_open(thread_group(tid))
    except (OSError, ValueError) as e:
        return getattr(e, "errno", None) or errno.ESRCH
    try:
        if not still_waiting():
            return errno.ESRCH

        copy = int(libc.syscall(_PIDFD_GETFD, pidfd, fd, 0))
        if copy < 0:
            return ctypes.get_errno() or errno.EBADF
    finally:
        os.close(pidfd)
    try:
        sock = socket.socket(fileno=copy)
    except OSError as e:  # not a socket: what listen() itself would say
        os.close(copy)
        return errno.ENOTSOCK if e.errno in (None, errno.ENOTSOCK) else e.errno
    with sock:
        try:
            if not may_listen(sock.family, sock.getsockname(), ports):
                return errno.EACCES
            sock.listen(_backlog(backlog))
        except OSError as e:  # listen() itself failed: as the kernel says
            return e.errno or errno.EACCES
    return 0


class Listens:
    """Answers one sandbox's ``listen()`` calls while it runs (a daemon thread)."""

    def __init__(self, notify_fd: int, ports: Collection[int]) -> None:
        self.notify_fd = notify_fd
        self.ports = frozenset(ports)
        self._wake_r, self._wake_w = os.pipe()
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._thread = threading.Thread(target=self._run, name="listens", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop answering; a ``listen()`` after this fails (ENOSYS) instead of waiting."""
        if self._thread.is_alive():
            os.write(self._wake_w, b"x")
            self._thread.join(5)
        for fd in (self._wake_r, self._wake_w, self.notify_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.notify_fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if self._wake_r in events or events.get(self.notify_fd, 0) & select.POLLHUP:
                return  # stopped, or nothing is left that could call listen()
            if self.notify_fd in events:
                self._one()

    def _one(self) -> None:
        notif = _Notif()
        if self._libc.ioctl(self.notify_fd, _RECV, ctypes.byref(notif)) != 0:
            return  # the caller died meanwhile (ENOENT), or a signal (EINTR)
        args = notif.data.args
        pending = ctypes.c_uint64(notif.id)

        def still_waiting() -> bool:
            return bool(self._libc.ioctl(self.notify_fd, _ID_VALID, ctypes.byref(pending)) == 0)

        error = answer(self._libc, notif.pid, int(args[0]), int(args[1]), self.ports, still_waiting)
        response = _Resp(notif.id, 0, -error if error else 0, 0)
        self._libc.ioctl(self.notify_fd, _SEND, ctypes.byref(response))  # ENOENT: it died


def hand_over(channel: socket.socket) -> None:
    """In the framework's process, sandboxed, before exec: every ``listen()`` from now on
    waits for the runner, which gets the filter's descriptor over ``channel``."""
    fd = install_listen_filter(ctypes.CDLL(None, use_errno=True))
    try:
        socket.send_fds(channel, [b"L"], [fd])
    finally:
        os.close(fd)  # never the framework's: it would answer its own listen()


def take_over(channel: socket.socket, ports: Collection[int]) -> Listens:
    """In the runner, once the framework's process exists: answer its ``listen()``s."""
    channel.settimeout(5)
    _, fds, _, _ = socket.recv_fds(channel, 1, 1, socket.MSG_CMSG_CLOEXEC)
    if len(fds) != 1:
        raise OSError("the sandbox did not hand over its listen filter")
    listens = Listens(fds[0], ports)
    listens.start()
    return listens
