"""A private network for a sandboxed framework: its own network namespace.

On the host's network a framework's port on 127.0.0.1 answers every local process — other
local accounts skip the guard's access check — and a browser on the same machine sends
the site's cookies to it (cookies ignore ports), so a dashboard's page could send its
viewers there. In a network namespace of its own the framework and everything it starts
listen where nothing but the runner reaches:

- a **door** process (runners.door) is started in a new user and network namespace
  (unprivileged: the user namespace maps the runner's own user only), loopback up;
- the framework joins that namespace before its sandbox closes (``enter``);
- the runner's guard reaches the framework through the door, which connects inside and
  passes each connection over as a descriptor: bytes then flow as before, no extra hop;
- **egress** (``private``): pasta (the passt package, user-mode networking, as rootless
  Podman uses) gives the namespace the host's outbound routes, forwarding no port in
  either direction and not mapping the host's loopback (``--no-map-gw``): the dashboard
  reaches the internet as the host does, never the hub's, the gateway's or another
  framework's loopback ports. ``isolated`` has no egress at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from relay import passing
from runners import procs
from runners.door import spare_port
from runners.errors import FrameworkStartError
from runners.fds import close_inherited
from runners.mounts import hide

CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def loopback_up() -> None:
    """Bring ``lo`` up in this process's network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def unshare_network(uid: int, gid: int) -> None:
    """This (single-threaded) process into a new user and network namespace, as the
    same user and group, with loopback up."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNET), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    loopback_up()


def private_view(uid: int, gid: int, keep: Sequence[str]) -> None:
    """On the host's network: a user and mount namespace alone (single-threaded, before
    exec), for the same private places (runners.mounts) as in a network of its own."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    hide(keep)


def available() -> str:
    """Why a private network cannot be made here, or "" when it can: tried once, in a
    throw-away process of its own (single-threaded, as ``unshare`` needs)."""
    code = (
        "import os; from runners.netns import unshare_network as u; u(os.geteuid(), os.getegid())"
    )
    try:
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "trying a new user and network namespace took over 30 s"
    except subprocess.CalledProcessError as e:
        lines = e.stderr.strip().splitlines()
        return f"this kernel refuses a new user and network namespace ({lines[-1] if lines else e})"
    except OSError as e:
        return f"cannot try a new user and network namespace ({e})"
    return ""


def egress_helper() -> str | None:
    return shutil.which("pasta")


def _egress_child() -> None:
    _libc().prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
    close_inherited()


class Door:
    """The runner's end of a framework's private network."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        channel: socket.socket,
        port: int,
        egress_wanted: bool,
    ) -> None:
        self.process = process
        self.port = port
        self.egress_wanted = egress_wanted
        self.channel = channel
        self.egress: asyncio.subprocess.Process | None = None  # pasta
        self._lock = asyncio.Lock()
        self._namespaces = [
            os.open(f"/proc/{process.pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
            for kind in ("user", "net")
        ]

    @classmethod
    async def open(cls, port: int, egress: bool) -> Door:
        """Start the door for a framework that will listen on 127.0.0.1:``port`` inside,
        and (``egress``) pasta to give the namespace the host's outbound routes."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        uid, gid = os.geteuid(), os.getegid()

        def in_child() -> None:
            _libc().prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
            unshare_network(uid, gid)
            spare_port(port)
            close_inherited(keep={theirs.fileno()})

        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "runners.door", str(port), str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), preexec_fn=in_child,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as e:
            ours.close()
            raise FrameworkStartError(f"no private network for the framework ({e})") from e
        finally:
            theirs.close()
        ours.setblocking(False)
        door = cls(process, ours, port, egress)
        if egress:
            await door._start_egress()
        return door

    async def _start_egress(self) -> None:
        pasta = egress_helper()
        if pasta is None:
            await self.close()
            raise FrameworkStartError("no egress for the private network: pasta (passt) is missing")
        argv = [
            pasta, "--quiet", "--foreground", "--config-net",
            "--tcp-ports", "none", "--udp-ports", "none",  # nothing from outside in
            "--tcp-ns", "none", "--udp-ns", "none",  # no host loopback port inside
            "--no-map-gw",  # the gateway's address is not the host's loopback
            "--userns", f"/proc/{self.process.pid}/ns/user",
            "--netns", f"/proc/{self.process.pid}/ns/net",
        ]  # fmt: skip
        if os.geteuid() == 0:
            argv += ["--runas", "0:0"]  # it would drop to nobody, who cannot open the namespace
        self.egress = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            preexec_fn=_egress_child,
        )
        try:  # the door looks for a route for 5 s; a door that hangs is no better
            configured = await asyncio.wait_for(self._ask(b"w"), 10) == b"up"
        except (TimeoutError, OSError):
            configured = False
        if not configured:
            await self.close()
            raise FrameworkStartError("pasta did not configure the framework's network in 5 s")

    async def _ask(self, request: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        async with self._lock:
            await loop.sock_sendall(self.channel, request)
            return await loop.sock_recv(self.channel, 16)

    async def connect(self) -> socket.socket:
        """A connection to the framework inside (OSError as a connect would raise it)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            await loop.sock_sendall(self.channel, b"c")
            message, fds = await passing.receive(self.channel, 16)
        return passing.connection_from(message, fds, "the door to the framework's network")

    def enter(self, keep: Sequence[str]) -> None:
        """In the framework's process before exec (single-threaded): into the private
        network (its user namespace first: it owns the network namespace); then, in a
        mount namespace of its own, private ``/tmp``, ``/run``, ``/dev/shm`` … with only
        the paths its sandbox needs (``keep``) bound back (runners.mounts)."""
        libc = _libc()
        for fd, kind in zip(self._namespaces, (CLONE_NEWUSER, CLONE_NEWNET), strict=True):
            _check(libc.setns(fd, kind), "setns")
        _check(libc.unshare(CLONE_NEWNS), "unshare (mounts)")  # mounts here stay here
        hide(keep)

    async def close(self) -> None:
        self.channel.close()
        for fd in self._namespaces:
            with contextlib.suppress(OSError):
                os.close(fd)
        for process in (self.egress, self.process):
            if process is not None:
                await _end(process)


async def _end(process: asyncio.subprocess.Process) -> None:
    """Stop a helper; never wait without end: the runner, a subreaper, may have reaped it
    already (stopping the framework's whole tree), and then its event loop never hears of
    its exit (found in the demo: runners that did not stop)."""
    if process.returncode is not None:
        return
    found = procs.stat(process.pid)
    if found is None or found[1] != os.getpid():
        return  # gone and reaped, or reaped and its number taken by another process since
    for signal_it in (process.terminate, process.kill):
        with contextlib.suppress(ProcessLookupError):
            signal_it()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(process.wait(), 2)
            return
