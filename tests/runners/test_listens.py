"""A sandboxed framework listens on its own port only (runners/listens.py): a socket that
listens without ``bind`` — which Landlock does not see — is refused by the runner; the
framework's own port, Unix sockets and everything unsandboxed listen as before."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest
import uvloop

from runners.framework import Framework
from runners.listens import may_listen
from runners.ports import free_port_in
from runners.sandbox import Sandbox, abi

pytestmark = pytest.mark.unit

ATTEMPTS = r"""
import ctypes, errno, json, os, socket, sys, threading
port, found = int(sys.argv[1]), {}
def attempt(name, act):
    try:
        found[name] = act()
    except OSError as e:
        found[name] = errno.errorcode.get(e.errno, str(e.errno))
def unbound(family):
    s = socket.socket(family)
    s.listen()
    return "listening"
def own():
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen(5)
    socket.create_connection(("127.0.0.1", port)).close()
    return "listening"
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.bind("\0podium-listens-" + str(port))
    s.listen()
    return "listening"
def io_uring():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(425, 1, None) == -1 and ctypes.get_errno() == errno.ENOSYS:
        return "ENOSYS"
    return "there"
def namespace(how):  # a user namespace of its own: every capability there
    libc = ctypes.CDLL(None, use_errno=True)
    if how == "unshare":
        result = libc.unshare(0x10000000)
    else:  # clone(CLONE_NEWUSER | SIGCHLD): a child in a new user namespace
        result = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)
        if result == 0:
            os._exit(0)
        if result > 0:
            os.waitpid(result, 0)
    if result == -1:
        raise OSError(ctypes.get_errno(), "refused")
    return "made"
attempt("unbound IPv4", lambda: unbound(socket.AF_INET))
import fcntl
found["inherited"] = sorted(
    int(fd) for fd in os.listdir("/proc/self/fd")
    if int(fd) > 2 and os.path.exists(f"/proc/self/fd/{fd}")
    and not fcntl.fcntl(int(fd), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
)
attempt("new namespace (clone)", lambda: namespace("clone"))
attempt("new namespace (unshare)", lambda: namespace("unshare"))  # the last: it stays in it
attempt("unbound IPv6", lambda: unbound(socket.AF_INET6))
def in_thread(act):  # the call's notification names the thread, not the process
    result = []
    def run():
        try:
            result.append(act())
        except OSError as e:
            result.append(e)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(result[0], OSError):
        raise result[0]
    return result[0]
attempt("unbound, from a thread", lambda: in_thread(lambda: unbound(socket.AF_INET)))
attempt("own port, from a thread", lambda: in_thread(own))
def everywhere():  # its own port, but on every address: other machines skip the guard
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen()
    return "listening"
attempt("own port on every address", everywhere)
attempt("unix", unix)
attempt("io_uring", io_uring)
print(json.dumps(found), flush=True)
"""


async def _attempts(tmp_path: Path, sandboxed: bool) -> dict[str, object]:
    port = free_port_in((40000, 40999))
    home = tmp_path / "home"
    sandbox = Sandbox(home=str(home), ports=(40000, 40999)).for_framework(port)
    sandbox.make_home()
    framework = Framework(
        [sys.executable, "-c", ATTEMPTS, str(port)], dict(os.environ), tmp_path, 20,
        sandbox if sandboxed else None,
    )  # fmt: skip
    leaked = os.open("/dev/null", os.O_RDONLY)  # inheritable, as an event loop may leave one
    os.set_inheritable(leaked, True)
    try:
        await framework.start()
    finally:
        os.close(leaked)
    assert await framework.wait() == 0, framework.tail()
    found: dict[str, object] = json.loads(framework.tail()[-1])
    return found


@pytest.mark.skipif(abi() < 4, reason="Landlock ABI 4 (Linux 6.7) is needed here")
def test_a_sandboxed_framework_listens_on_its_own_port_only(tmp_path: Path) -> None:
    # On the runner's own event loop (uvloop leaves inheritable descriptors to children)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        found = runner.run(_attempts(tmp_path, sandboxed=True))
    assert found == {
        "unbound IPv4": "EACCES",
        "inherited": [],  # nothing of the runner's (an event loop may leave some open)
        "new namespace (unshare)": "EPERM",
        "new namespace (clone)": "EPERM",
        "unbound IPv6": "EACCES",
        "unbound, from a thread": "EACCES",
        "own port, from a thread": "listening",
        "own port on every address": "EACCES",
        "unix": "listening",
        "io_uring": "ENOSYS",
    }


async def test_unsandboxed_the_same_code_listens_anywhere(tmp_path: Path) -> None:
    found = await _attempts(tmp_path, sandboxed=False)
    assert found["unbound IPv4"] == found["unbound IPv6"] == "listening", found
    assert found["own port on every address"] == "listening", found
    assert found["new namespace (unshare)"] == found["new namespace (clone)"] == "made", found


def test_what_may_listen() -> None:
    assert may_listen(socket.AF_INET, ("127.0.0.1", 40001), {40001})
    assert may_listen(socket.AF_INET6, ("::1", 40001, 0, 0), {40001})
    assert not may_listen(socket.AF_INET, ("0.0.0.0", 0), {40001})  # unbound
    assert not may_listen(socket.AF_INET, ("127.0.0.1", 40002), {40001})
    assert not may_listen(socket.AF_INET, ("0.0.0.0", 40001), {40001})  # other machines
    assert not may_listen(socket.AF_INET6, ("::", 40001, 0, 0), {40001})
    assert not may_listen(socket.AF_INET6, None, {40001})
    assert may_listen(socket.AF_UNIX, "\0name", {40001})
