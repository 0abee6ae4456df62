"""A sandboxed framework in a network of its own (runners/netns.py): the runner reaches it
through the door; nothing on the host does; it reaches none of the host's loopback
services; ``private`` has the host's outbound routes (pasta), ``isolated`` none."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from runners.door import has_route
from runners.framework import Framework
from runners.netns import Door, available, egress_helper
from runners.ports import free_port_in
from runners.readiness import http_status
from runners.sandbox import Sandbox, abi

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(abi() < 1 or bool(available()), reason="no Landlock or namespaces"),
]

VAR = "/var/lib" if os.access("/var/lib", os.W_OK) else tempfile.gettempdir()
REGISTRY = "http://deb.debian.org/debian/dists/bookworm/Release"  # reachable from here

INSIDE = r"""
import http.server, json, os, socket, sys, threading, time, urllib.request
port, host_port, registry = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
found = {}
def attempt(name, act):
    try:
        found[name] = act()
    except OSError as e:
        found[name] = type(e).__name__
def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=3).close()
    return "connected"
def fetch():  # three tries: the registry, far away, failed once in CI
    for tries in range(3):
        try:
            with urllib.request.urlopen(registry, timeout=10) as r:
                return f"fetched {r.status}"
        except OSError:
            if tries == 2:
                raise
            time.sleep(1)
attempt("host loopback", lambda: connect(host_port))
found["host's /dev/shm"] = "seen" if os.path.exists(sys.argv[4]) else "not there"
found["host's /run"] = "seen" if os.path.exists(sys.argv[5]) else "not there"
def unix(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        return "connected"
attempt("host's socket in /tmp", lambda: unix(sys.argv[6]))
attempt("host's socket in /var/lib", lambda: unix(sys.argv[7]))
if registry:
    attempt("egress", fetch)
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(found).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), Answer).serve_forever()
"""


def _registry_reachable() -> bool:
    try:
        with urllib.request.urlopen(REGISTRY, timeout=5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


async def _inside(tmp_path: Path, network: str, registry: str = "") -> dict[str, str]:
    port = free_port_in((40000, 40999))
    sandbox = Sandbox(home=str(tmp_path / "home"), ports=(40000, 40999), network=network)
    sandbox = sandbox.for_framework(port)
    sandbox.make_home()
    with socket.socket() as host_service:  # something of the host's, on its loopback
        host_service.bind(("127.0.0.1", 0))
        host_service.listen()
        door = await Door.open(port, egress=network == "private")
        argv = [sys.executable, "-c", INSIDE, str(port), str(host_service.getsockname()[1])]
        shm = Path(f"/dev/shm/podium-test-{os.getpid()}-{port}")
        shm.write_text("the host's")
        run = Path(f"/run/podium-test-{os.getpid()}-{port}")
        run.write_text("the host's")
        # Root-only sockets' places (a framework run by a root gateway is their owner)
        folders = [Path(tempfile.mkdtemp(prefix="podium-test-", dir=d)) for d in ("/tmp", VAR)]
        host_sockets = []
        for folder in folders:
            folder.chmod(0o700)
            host_sockets.append(socket.socket(socket.AF_UNIX))
            host_sockets[-1].bind(str(folder / "private.sock"))
            host_sockets[-1].listen()
        places = [str(shm), str(run), *(str(f / "private.sock") for f in folders)]
        framework = Framework(
            [*argv, registry, *places], dict(os.environ), tmp_path, 20, sandbox, door
        )
        await framework.start()
        try:
            for _ in range(300):
                try:
                    reader, writer = await asyncio.open_connection(sock=await door.connect())
                    break
                except ConnectionRefusedError:
                    await asyncio.sleep(0.05)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            found: dict[str, str] = json.loads((await reader.read()).split(b"\r\n\r\n", 1)[1])
            writer.close()
            with socket.socket() as s:  # another local account, at the framework's port
                found["from the host"] = (
                    "connected" if not s.connect_ex(("127.0.0.1", port)) else "refused"
                )
            found["probe"] = str(await http_status(door, "/", f"127.0.0.1:{port}"))
        finally:
            await framework.stop(2)
            await door.close()
            shm.unlink()
            run.unlink()
            for held, folder in zip(host_sockets, folders, strict=True):
                held.close()
                shutil.rmtree(folder)
        assert framework.returncode is not None
    return found


async def test_a_private_network_lets_only_the_runner_in(tmp_path: Path) -> None:
    found = await _inside(tmp_path, "isolated")
    assert found == {"host loopback": "ConnectionRefusedError", "from the host": "refused",
                     "host's /dev/shm": "not there", "host's /run": "not there",
                     "host's socket in /tmp": "FileNotFoundError",
                     "host's socket in /var/lib": "FileNotFoundError", "probe": "200"}  # fmt: skip


@pytest.mark.skipif(egress_helper() is None, reason="pasta (passt) is not installed")
async def test_private_reaches_out_as_the_host_does_and_isolated_does_not(tmp_path: Path) -> None:
    if not _registry_reachable():
        pytest.skip("this machine reaches no package registry")
    private = await _inside(tmp_path / "private", "private", REGISTRY)
    assert private["egress"] == "fetched 200" and private["host loopback"] != "connected", private
    isolated = await _inside(tmp_path / "isolated", "isolated", REGISTRY)
    assert isolated["egress"] == "URLError", isolated


def test_the_door_reads_the_default_route() -> None:
    assert has_route()  # this host's own namespace (it reached the registries to install)


@pytest.mark.functional
@pytest.mark.skipif(egress_helper() is None, reason="pasta (passt) is not installed")
async def test_a_runner_in_a_private_network_stops_at_once(tmp_path: Path) -> None:
    """Stopping the framework's tree reaps the door and pasta too; the runner must not then
    wait for their exit forever (found in the demo: its runners outlived it)."""
    import time

    from tests.support.harness import APPS, app_spec, start_runner

    rules = {"read": [str(APPS / "custom")], "home": str(tmp_path / "home"),
             "network": "private"}  # fmt: skip
    command = ["{python}", "serve.py", "--port", "{port}", "--prefix", "{prefix}"]
    spec = app_spec("custom", "", custom={"command": command}, sandbox=rules)
    runner = await start_runner(spec, tmp_path / "runner")
    await runner.wait_ready()
    began = time.monotonic()
    assert await runner.stop(timeout=15) == 0, runner.output()[-2000:]
    assert time.monotonic() - began < 8
    assert "in a network of its own: private" in runner.output()


@pytest.mark.skipif(shutil.which("nsenter") is None, reason="reads the namespace with nsenter")
async def test_the_frameworks_port_is_no_connections_ephemeral_port() -> None:
    """CI's soak once saw a framework fail to listen in a network of its own ("address
    already in use"): a connection made there (the readiness probe through the door) had
    its port as its own. The door keeps the port out of the namespace's ephemeral range."""
    for port in (40588, 55000):
        door = await Door.open(port, egress=False)
        try:
            found = await asyncio.create_subprocess_exec(
                "nsenter", f"--net=/proc/{door.process.pid}/ns/net", "--",
                "cat", "/proc/sys/net/ipv4/ip_local_port_range",
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            first, last = map(int, (await found.communicate())[0].split())
            assert not first <= port <= last, (first, last)
            assert last - first > 5000  # room enough for every other connection
        finally:
            await door.close()
