"""Keep the gateway's route in configurable-http-proxy, whatever happens to the proxy.

After a proxy restart JupyterHub restores its own routes at once but
``c.Proxy.extra_routes`` only on its periodic route check (every
``c.JupyterHub.last_activity_interval``, 5 minutes by default), so
``/dashboards/`` would be gone for minutes. When given the proxy's API, the
gateway asks for its own route every ``route_check_interval`` seconds (one
small request: the proxy answers for that route alone) and puts it back. The
route carries no ``"jupyterhub": true`` mark, so the hub's check leaves it alone.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

log = logging.getLogger("podium.route")
RETRY_SECONDS = 1.0  # while the proxy does not answer: it is being restarted right now


class RouteKeeper:
    def __init__(
        self, session: aiohttp.ClientSession, api_url: str, token: str, prefix: str, target: str
    ) -> None:
        self.session = session
        self.url = api_url.rstrip("/") + "/api/routes" + (prefix.rstrip("/") or "/")
        self.headers = {"Authorization": f"token {token}"}
        self.path = prefix
        self.target = target
        self.timeout = aiohttp.ClientTimeout(total=5)

    async def ensure(self) -> bool:
        """Add the route if it is missing or points elsewhere; return whether it was added."""
        async with self.session.get(self.url, headers=self.headers, timeout=self.timeout) as r:
            if r.status != 404:
                r.raise_for_status()
                if (await r.json()).get("target") == self.target:
                    return False
        async with self.session.post(
            self.url,
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
                await asyncio.sleep(min(interval, RETRY_SECONDS))
                continue
            await asyncio.sleep(interval)
