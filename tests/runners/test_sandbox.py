"""The sandbox's rules (runners/sandbox.py), applied to a real process: what a framework
may and may not touch. The whole chain, hostile app and all, is tests/gateway/test_sandbox.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runners.errors import SpecError
from runners.sandbox import Sandbox, abi, describe, parse_sandbox, system_paths
from tests.support.hubstack import ROOT

pytestmark = pytest.mark.unit

CHILD = """
import json, os, socket, sys
from runners.sandbox import Sandbox, apply
doc = json.loads(sys.argv[1])
sandbox = Sandbox(**{**doc, "ports": tuple(doc["ports"])})
apply(sandbox.for_framework(int(sys.argv[2])))
found = {}
for path in json.loads(sys.argv[3]):
    try:
        with open(path) as f:
            f.read(1)
        found[path] = "read"
    except OSError as e:
        found[path] = e.strerror
try:
    with open(os.path.join(sandbox.home, "x"), "w") as f:
        f.write("x")
    found["home"] = "written"
except OSError as e:
    found["home"] = e.strerror
for port in (int(sys.argv[2]), 0):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            found[f"bind {port}"] = "bound"
        except OSError as e:
            found[f"bind {port}"] = e.strerror
with socket.socket() as s:  # another framework's port (nothing listens: refused, or denied)
    try:
        s.connect(("127.0.0.1", int(sys.argv[4])))
    except OSError as e:
        found["connect"] = e.strerror
print(json.dumps(found))
"""


def test_the_spec_names_absolute_paths_only() -> None:
    assert parse_sandbox({"read": ["/a"], "write": ["/b"], "home": "/h"}) == Sandbox(
        read=("/a",), write=("/b",), home="/h"
    )
    for bad in ({"read": ["rel"]}, {"write": "/b"}, {"home": "h"}, {"other": []}, []):
        with pytest.raises(SpecError):
            parse_sandbox(bad)


def test_the_system_is_readable_but_never_the_checkout_around_the_runner() -> None:
    paths = system_paths(sys.executable)
    assert "/usr" in paths and str(ROOT / "runners") in paths
    assert str(ROOT) not in paths  # the demo keeps its secrets under the checkout


def test_what_this_kernel_gives_is_said() -> None:
    assert describe(0).startswith("no Landlock")
    assert "listening ports" in describe(4) and "not signals" in describe(4)


@pytest.mark.skipif(abi() < 4, reason="Landlock ABI 4 (Linux 6.7) is needed here")
def test_a_sandboxed_process_reads_writes_and_listens_where_it_may(tmp_path: Path) -> None:
    mine, other, home = tmp_path / "mine", tmp_path / "other", tmp_path / "home"
    for folder in (mine, other, home):
        folder.mkdir()
        (folder / "f").write_text("x")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rules = json.dumps({"read": [str(mine)], "home": str(home), "ports": [port, port + 1]})
    reads = json.dumps([str(mine / "f"), str(other / "f"), str(ROOT / "pyproject.toml")])
    out = subprocess.run(
        [sys.executable, "-c", CHILD, rules, str(port), reads, str(port + 1)],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    found = json.loads(out.stdout)
    assert found == {
        str(mine / "f"): "read",
        str(other / "f"): "Permission denied",
        str(ROOT / "pyproject.toml"): "Permission denied",
        "home": "written",
        f"bind {port}": "bound",
        "bind 0": "Permission denied",
        "connect": "Permission denied",  # not "Connection refused": never tried
    }, found


@pytest.mark.functional
@pytest.mark.skipif(abi() < 6, reason="Landlock ABI 6 (Linux 6.12) is needed here")
async def test_a_sandboxed_voila_gives_each_viewer_a_kernel(tmp_path: Path) -> None:
    """Kernels over abstract Unix sockets, each its own names: three viewers at once, each
    with a live kernel (names fixed per dashboard failed from the second one on)."""
    import asyncio

    import aiohttp

    from tests.support.harness import APPS, app_spec, start_runner

    rules = {"read": [str(APPS / "voila")], "home": str(tmp_path / "home")}
    spec = app_spec("voila", "demo.ipynb", sandbox=rules)
    runner = await start_runner(spec, tmp_path / "runner")
    try:
        await runner.wait_ready()
        async with aiohttp.ClientSession(headers=runner.headers) as session:

            async def view() -> str:
                async with session.get(runner.url) as r:
                    assert r.status == 200, f"{r.status}: {(await r.text())[-500:]}"
                    return await r.text()

            pages = await asyncio.gather(view(), view(), view())
        assert all("Hello from Voila" in page for page in pages), runner.output()[-2000:]
        assert "sandboxed: Landlock" in runner.output()
    finally:
        assert await runner.stop() == 0


def test_the_frameworks_ports_are_a_range_of_their_own() -> None:
    from runners.ports import free_port_in

    assert parse_sandbox({"ports": [40000, 40999]}).ports == (40000, 40999)
    for bad in ([40999, 40000], [80, 90], [40000], [True, 40000], "40000-40999"):
        with pytest.raises(SpecError):
            parse_sandbox({"ports": bad})
    assert 40000 <= free_port_in((40000, 40999)) <= 40999


UNIX = """
import ctypes, json, os, socket, subprocess, sys
from runners.sandbox import Sandbox, apply, system_paths
def getfd():  # a socket of another process's taken (here its own: the rule is the call)
    mine = socket.socket()
    fd = ctypes.CDLL(None, use_errno=True).syscall(438, os.pidfd_open(os.getpid()), mine.fileno(), 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd
def traced():  # another process stopped by ptrace (here a child of its own)
    libc = ctypes.CDLL(None, use_errno=True)
    child = subprocess.Popen(["sleep", "5"])
    try:
        if libc.ptrace(16, child.pid, 0, 0) != 0:  # PTRACE_ATTACH
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    finally:  # not child.kill(): its poll() takes the ptrace stop for an end and sends nothing
        os.kill(child.pid, 9)
        while not os.WIFSIGNALED(os.waitpid(child.pid, 0)[1]):
            pass
        child.returncode = -9
    return ()
def read_memory():  # process_vm_readv of its own memory
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(8)
    source = ctypes.create_string_buffer(b"podium!")
    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("size", ctypes.c_size_t)]
    local, remote = IoVec(ctypes.addressof(buffer), 8), IoVec(ctypes.addressof(source), 8)
    if libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return ()
def allocate():  # a file's blocks made at once (64 MB here; gigabytes as fast)
    import tempfile
    with tempfile.TemporaryFile(dir=sys.argv[3]) as f:
        os.posix_fallocate(f.fileno(), 0, 1 << 20)  # glibc writes it, block by block
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.fallocate(f.fileno(), 0, ctypes.c_long(0), ctypes.c_long(1 << 26)) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return ()
apply(Sandbox(read=(*system_paths(sys.executable), sys.argv[1]), write=(sys.argv[3],),
              building=sys.argv[2] == "no"))
found = {}
for what, make in (("pair", lambda: socket.socketpair()),
                   ("unix", lambda: (socket.socket(socket.AF_UNIX),)),
                   ("tcp", lambda: (socket.socket(),)),
                   ("getfd", lambda: (socket.socket(fileno=getfd()),)),
                   ("ptrace", traced), ("vm_read", read_memory), ("fallocate", allocate)):
    try:
        for s in make():
            s.close()
        found[what] = "made"
    except OSError as e:
        found[what] = e.strerror
print(json.dumps(found))
"""


@pytest.mark.parametrize("allowed", [True, False])
def test_an_install_makes_no_unix_socket(allowed: bool, tmp_path: Path) -> None:
    """The re-test: through a Unix socket build code handed a descriptor of its layer to a
    process of the owner's (and kept removed files in flight, unmeasured). An install's
    sandbox makes none; TCP stays (pip's index). The last re-test: build code stopped pip
    with ptrace (and read its memory): neither in an install; nor may it allocate a file's
    blocks at once (gigabytes each, thousands between two measures of the size watch)."""
    said = subprocess.run(
        [sys.executable, "-c", UNIX, str(ROOT), "yes" if allowed else "no", str(tmp_path)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    found = json.loads(said.stdout)
    denied, refused = "Permission denied", "Operation not permitted"
    made = {"pair": "made", "unix": "made", "tcp": "made", "getfd": "made", "ptrace": "made",
            "vm_read": "made", "fallocate": "made"}  # fmt: skip
    assert found == (made if allowed else {**made, "pair": denied, "unix": denied,
                     "getfd": refused, "ptrace": refused, "vm_read": refused,
                     "fallocate": "Operation not supported"})  # fmt: skip
