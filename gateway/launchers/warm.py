"""Runners started ahead and waiting for a dashboard, so a wake-up costs only the
framework's own start (the local launcher's ``warm_runners``).

A waiting runner reads one line on its stdin — its folder, launch spec and log — and
becomes that dashboard's runner; one whose stdin closes exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway.errors import LauncherError

Process = asyncio.subprocess.Process


class WarmPool:
    """Up to ``size`` waiting runners, each made by ``spawn``."""

    def __init__(self, size: int, spawn: Callable[[], Awaitable[Process]], log: logging.Logger):
        self.size = size
        self._spawn = spawn
        self._log = log
        self._waiting: list[Process] = []
        self._refilling: asyncio.Task[None] | None = None

    async def hand(self, folder: Path, spec: Path) -> Process | None:
        """Give the dashboard to a waiting runner; None when none is waiting (or it died)."""
        while self._waiting:
            process = self._waiting.pop()
            if process.returncode is not None or process.stdin is None:
                continue
            line = {"folder": str(folder), "spec": str(spec), "log": str(folder / "runner.log")}
            try:
                process.stdin.write(json.dumps(line).encode() + b"\n")
                await process.stdin.drain()
                process.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                continue
            return process
        return None

    def refill(self, after: float = 0) -> None:
        """Start waiting runners up to ``size``, ``after`` seconds from now."""
        if self.size > 0 and (self._refilling is None or self._refilling.done()):
            self._refilling = asyncio.get_running_loop().create_task(self._fill(after))

    async def _fill(self, after: float) -> None:
        await asyncio.sleep(after)
        while sum(p.returncode is None for p in self._waiting) < self.size:
            try:
                self._waiting.append(await self._spawn())
            except LauncherError as e:  # said once; the next start refills
                self._log.warning("cannot keep a warm runner: %s", e)
                return

    @property
    def waiting(self) -> list[Process]:
        return list(self._waiting)

    async def filled(self) -> None:
        """Until the refill under way, if any, is done."""
        if self._refilling is not None:
            await self._refilling

    async def close(self) -> None:
        """Waiting runners see their stdin close and exit."""
        if self._refilling is not None:
            self._refilling.cancel()
        for process in self._waiting:
            if process.stdin is not None:
                process.stdin.close()
        for process in self._waiting:
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
        self._waiting.clear()
