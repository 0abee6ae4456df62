"""Keep the gateway's route in configurable-http-proxy, whatever happens to the proxy.

JupyterHub restores ``c.Proxy.extra_routes`` only on its periodic route check
(every ``c.JupyterHub.last_activity_interval``, 5 minutes by default), so
after a proxy restart ``/dashboards/`` would be gone for minutes. When given
the proxy's API, the gateway checks its own route every few seconds and puts
it back. The route carries no ``"jupyterhub": true`` mark, so the hub's check
leaves it alone.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

log = logging.getLogger("podium.route")


class RouteKeeper:
    def __init__(
        self, session: aiohttp.ClientSession, api_url: str, token: str, prefix: str, target: str
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.headers = {"Authorization": f"token {token}"}
        self.path = prefix.rstrip("/") or "/"
        self.target = target
        self.timeout = aiohttp.ClientTimeout(total=5)

    async def ensure(self) -> bool:
        """Add the route if it is missing or points elsewhere; return whether it was added."""
        url = f"{self.api_url}/api/routes"
        async with self.session.get(url, headers=self.headers, timeout=self.timeout) as r:
            r.raise_for_status()
            routes = await r.json()
        if routes.get(self.path, {}).get("target") == self.target:
            return False
        async with self.session.post(
            url + self.path,
            json={"target": self.target, "podium": True},
            headers=self.headers,
            timeout=self.timeout,
        ) as r:
            r.raise_for_status()
        log.info("route %s -> %s (re)added to the proxy", self.path, self.target)
        return True

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.ensure()
            except (aiohttp.ClientError, TimeoutError) as e:
                log.warning("cannot check the proxy's routes (%s); trying again", type(e).__name__)
            await asyncio.sleep(interval)
