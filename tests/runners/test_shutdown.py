"""SIGTERM stops the framework and every process it started, kernels and detached children too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.support.harness import APPS, app_spec, make_spec, silent_server, start_runner

pytestmark = pytest.mark.functional

# A bound, not a measurement: "within a few seconds" with room for a loaded CI machine.
STOP_BOUND = 20.0


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def all_gone(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid} {p.cmdline()}")
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
async def test_voila_kernels_stop_with_the_runner(tmp_path: Path) -> None:
    runner = await start_runner(app_spec("voila", "demo.ipynb"), tmp_path)
    await runner.wait_ready()
    async with (
        aiohttp.ClientSession() as session,
        session.get(runner.url, headers=runner.headers) as r,
    ):
        assert "the answer is 42" in await r.text()
    procs = descendants(runner.process.pid)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in procs), [p.cmdline() for p in procs]
    assert await runner.stop(STOP_BOUND) == 0
    assert all_gone(procs) == []


async def test_detached_grandchild_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = ["{python}", "spawner.py", "{port}", str(pid_file)]
    spec = make_spec(
        "custom",
        {"type": "directory", "root": str(APPS / "custom")},
        custom={"command": command, "strip_prefix": True},
    )
    runner = await start_runner(spec, tmp_path)
    await runner.wait_ready()
    grandchild = psutil.Process(int(pid_file.read_text()))
    assert grandchild.is_running()
    procs = [*descendants(runner.process.pid), grandchild]
    assert await runner.stop(STOP_BOUND) == 0
    assert all_gone(procs) == []


async def test_sigterm_during_git_clone(tmp_path: Path) -> None:
    async with silent_server() as port:
        source = {
            "type": "git",
            "url": f"git://127.0.0.1:{port}/x.git",
            "dest": str(tmp_path / "clone"),
            "allowed_schemes": ["git"],
            "internal_hosts": ["127.0.0.1"],
        }
        runner = await start_runner(make_spec("streamlit", source, "app.py"), tmp_path)
        await asyncio.sleep(1.5)  # git is connected and waiting
        procs = descendants(runner.process.pid)
        assert any("git" in " ".join(p.cmdline()) for p in procs)
        assert await runner.stop(STOP_BOUND) == 0
        assert all_gone(procs) == []


async def test_streamlit_stops_cleanly(tmp_path: Path) -> None:
    runner = await start_runner(app_spec("streamlit", "app.py"), tmp_path)
    await runner.wait_ready()
    procs = descendants(runner.process.pid)
    assert procs
    assert await runner.stop(STOP_BOUND) == 0
    assert all_gone(procs) == []
    assert "received SIGTERM, stopping" in runner.output()


async def test_orphans_are_reaped_while_running(tmp_path: Path) -> None:
    """A grandchild that exits after its parent died must not stay a zombie of the runner."""
    script = (
        "import http.server, subprocess, sys;"
        "subprocess.Popen(['sh', '-c', 'sleep 1 &'], start_new_session=True);"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),"
        " http.server.SimpleHTTPRequestHandler).serve_forever()"
    )
    spec = make_spec(
        "custom",
        {"type": "directory", "root": str(APPS / "custom")},
        custom={"command": ["{python}", "-c", script, "{port}"], "strip_prefix": True},
    )
    runner = await start_runner(spec, tmp_path)
    await runner.wait_ready()
    await asyncio.sleep(8)  # the orphaned sleep has exited; the runner reaps every 5 s
    zombies = [
        p.pid
        for p in psutil.Process(runner.process.pid).children()
        if p.status() == psutil.STATUS_ZOMBIE
    ]
    assert zombies == []
    assert await runner.stop(STOP_BOUND) == 0


async def test_the_framework_dies_with_a_killed_runner(tmp_path: Path) -> None:
    """SIGKILL leaves the runner no chance to stop its framework: the kernel does it
    (PR_SET_PDEATHSIG), so no app outlives its runner and holds its port and memory."""
    runner = await start_runner(app_spec("streamlit", "app.py"), tmp_path)
    await runner.wait_ready()
    procs = descendants(runner.process.pid)
    assert any("streamlit" in " ".join(p.cmdline()) for p in procs)
    runner.process.kill()
    await runner.process.wait()
    # The kernel's SIGKILL lands a moment after the runner is gone: give it that moment.
    await asyncio.to_thread(psutil.wait_procs, procs, 10)
    assert all_gone(procs) == []
