"""Asking a runner's guard how its start goes: its health answer, for any launcher.

The guard answers ``<prefix>_podium/health`` before it checks the gateway's credential (it
says no more than a status line and, once made, which requirements layer the app runs
on), and holds the answer until its state changes when asked to (``?wait=``): the
gateway sees a start end the moment it does, without polling on a timer.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import yarl

from runners.contract import HEALTH_PATH

LAYER_FIELDS = ("key", "built", "reused")


class Guards:
    """One HTTP session for every guard this gateway asks."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def health(self, host: str, port: int, url: str, wait: float = 0) -> dict[str, Any]:
        """The guard's answer (``ready``, ``state``, ``reason``, maybe ``layer``); raises
        aiohttp.ClientError, TimeoutError or ValueError when there is none."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        # Verbatim: yarl would turn the prefix's %27 into "'", which the guard does not know.
        address = yarl.URL(f"http://{host}:{port}{url}{HEALTH_PATH}?wait={wait:g}", encoded=True)
        timeout = aiohttp.ClientTimeout(total=wait + 5)
        async with self._session.get(address, timeout=timeout) as response:
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ValueError("the guard's health answer is not an object")
        return body

    async def layer(self, host: str, port: int, url: str) -> dict[str, Any] | None:
        """Which requirements layer the app runs on, if the guard says (and it answers)."""
        try:
            found = (await self.health(host, port, url)).get("layer")
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        return layer_fields(found)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def layer_fields(found: Any) -> dict[str, Any] | None:
    """Only the fields the manage page shows, of the types it expects (the runner's word is
    its owner's code's to shape)."""
    if not isinstance(found, dict):
        return None
    return {k: found[k] for k in LAYER_FIELDS if isinstance(found.get(k), (str, bool))}
