"""Start real ``podium-runner`` processes for tests and talk to them like the gateway does."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from bs4 import BeautifulSoup

from tests.support.ports import free_port

APPS = Path(__file__).resolve().parent.parent / "apps"
PREFIX = "/dashboards/alice/demo/"
CREDENTIAL_HEADER = "X-Podium-Credential"


def make_spec(
    framework: str, source: dict[str, Any], entry: str = "", **extra: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "framework": framework,
        "source": source,
        "entry": entry,
        "prefix": PREFIX,
        "port": free_port(),
        "credential": secrets.token_urlsafe(24),
        "ready_timeout": 120,
    }
    spec.update(extra)
    return spec


def app_spec(framework: str, entry: str, **extra: Any) -> dict[str, Any]:
    return make_spec(
        framework, {"type": "directory", "root": str(APPS / framework)}, entry, **extra
    )


@dataclass
class Runner:
    """One runner process and what it printed."""

    spec: dict[str, Any]
    process: asyncio.subprocess.Process
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.spec['port']}"

    @property
    def url(self) -> str:
        return self.base + self.spec["prefix"]

    @property
    def headers(self) -> dict[str, str]:
        return {CREDENTIAL_HEADER: self.spec["credential"]}

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def exit_code(self, timeout: float = 60) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def wait_ready(self, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"runner exited {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    async with session.get(self.url + "_podium/health") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"runner not ready after {timeout} s:\n{self.output()}")

    async def stop(self, timeout: float = 20) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)


STARTED: list[Runner] = []  # stopped by the autouse fixture in conftest.py, whatever a test did


async def start_runner(
    spec: dict[str, Any], tmp: Path, env: dict[str, str] | None = None
) -> Runner:
    tmp.mkdir(parents=True, exist_ok=True)
    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps(spec))
    log_path = tmp / "runner.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runners",
            "--spec",
            str(spec_path),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    runner = Runner(spec, process, log_path)
    STARTED.append(runner)
    return runner


def asset_links(html: str, page_url: str) -> list[str]:
    """Absolute URLs of the scripts, stylesheets and icons a page loads from its own host."""
    soup = BeautifulSoup(html, "html.parser")
    refs = [t.get("src") for t in soup.find_all("script")]
    refs += [
        t.get("href")
        for t in soup.find_all("link")
        if {"stylesheet", "icon", "modulepreload", "preload"} & set(t.get("rel") or [])
    ]
    own = urlsplit(page_url).netloc
    urls = [urljoin(page_url, str(r)) for r in refs if r and not str(r).startswith("data:")]
    return sorted({u for u in urls if urlsplit(u).netloc == own})


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers (a hung git server, a squatter);
    every connection is closed on the way out, so none outlives the test."""
    held: set[asyncio.StreamWriter] = set()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.add(writer)
        try:
            await reader.read()  # until the client goes away
        finally:
            held.discard(writer)
            writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for writer in list(held):
            writer.close()
        await server.wait_closed()


# Runners started by module-scoped fixtures, kept across the tests of one framework.
KEPT: list[Runner] = []
