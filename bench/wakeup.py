"""Wake-up: a viewer's first request for a stopped dashboard to the first byte of the app.

Podium's time is what a browser waits: the first request (the progress page), the
start's events until "ready", then the app's page. The floor is the same framework
started by hand with the runner's own flags, polled every 10 ms until its page answers.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import time

import aiohttp
import psutil

from bench.measure import table
from bench.paths import Setup, api, on_its_origin
from tests.support.flows import until_ok
from tests.support.hubstack import ROOT, free_port

FRAMEWORKS = {
    "streamlit": ("tests/apps/streamlit/app.py", "app.py"),
    "voila": ("tests/apps/voila/demo.ipynb", "demo.ipynb"),
}
ROUNDS = 5
SETTLE = 5.0  # seconds between wake-ups: they are rare; the warm pool refills meanwhile


def by_hand_argv(framework: str, entry: str, port: int, prefix: str) -> list[str]:
    if framework == "streamlit":
        return [
            sys.executable, "-m", "streamlit", "run", entry, f"--server.port={port}",
            "--server.address=127.0.0.1", f"--server.baseUrlPath={prefix.strip('/')}",
            "--server.headless=true", "--server.fileWatcherType=none",
            "--browser.gatherUsageStats=false",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
        f"--Voila.base_url={prefix}", "--Voila.port_retries=0", entry,
    ]  # fmt: skip


async def floor(s: Setup, framework: str) -> float:
    source, entry = FRAMEWORKS[framework]
    folder = s.stack.dir / "by-hand" / framework
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / source, folder / entry)
    port, prefix = free_port(), "/by-hand/"
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *by_hand_argv(framework, entry, port, prefix), cwd=folder,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await until_ok(session, f"http://127.0.0.1:{port}{prefix}", began + 120, every=0.01)
        return time.monotonic() - began
    finally:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
        await process.wait()
        await asyncio.sleep(SETTLE)


async def through_podium(s: Setup, name: str) -> float:
    """The shareable link (its progress page, on the gateway's origin), then the app's first
    page where it is served (on its own origin when the stack is isolated)."""
    url = f"{s.stack.podium}alice/{name}/"
    events = f"{s.stack.podium}_/api/dashboards/alice/{name}/events"
    headers = {**s.auth, "Accept": "text/html"}
    async with aiohttp.ClientSession(headers=headers) as session:
        began = time.monotonic()
        async with session.get(url) as r:
            assert r.status == 202, f"expected the progress page, got {r.status}"
            await r.read()
        async with session.get(events) as r:
            async for line in r.content:
                if line.startswith(b"data: ") and json.loads(line[6:])["status"] != "starting":
                    break
        app = on_its_origin(s.stack, name)
        if app:
            session.headers.update(app)
        await until_ok(session, url, began + 120, every=0.01)
        took = time.monotonic() - began
    await api(s.stack, s.token, "POST", f"/dashboards/alice/{name}/stop")
    await asyncio.sleep(SETTLE)
    return took


async def report(s: Setup, seconds: float) -> None:
    rows = []
    for framework, (source, entry) in FRAMEWORKS.items():
        name = f"wake-{framework}"
        folder = s.stack.dir / "home" / "alice" / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, folder / entry)
        body = {
            "name": name,
            "framework": framework,
            "entry": entry,
            "source": {"type": "storage", "path": name},
        }
        await api(s.stack, s.token, "POST", "/dashboards", body)
        hand, podium = [], []
        for _ in range(ROUNDS):
            hand.append(await floor(s, framework))
            podium.append(await through_podium(s, name))
        h, p = statistics.median(hand), statistics.median(podium)
        rows.append([framework, f"{h * 1000:.0f}", f"{p * 1000:.0f}", f"{(p - h) * 1000:+.0f}"])
    table(
        f"3. wake-up, median of {ROUNDS} (ms)", ["framework", "by hand", "Podium", "overhead"], rows
    )
