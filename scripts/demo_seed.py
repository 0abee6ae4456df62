"""Wait for the demo hub, then publish alice's two example dashboards and say where to go."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import aiohttp

PORT = int(os.environ.get("PODIUM_DEMO_PORT", "8000"))
BASE = f"http://127.0.0.1:{PORT}"
SEED = os.environ["PODIUM_DEMO_SEED_TOKEN"]
PASSWORD = os.environ.get("PODIUM_DEMO_PASSWORD", "podium")
EXAMPLES = [
    {"name": "sales", "title": "Sales by region", "framework": "streamlit", "entry": "app.py",
     "description": "A Streamlit app, shared with the group analysts (bob).",
     "source": {"type": "storage", "path": "apps/sales"},
     "access": {"mode": "restricted", "groups": ["analysts"]}},
    {"name": "report", "title": "Weekly report", "framework": "voila", "entry": "report.ipynb",
     "description": "A notebook shown with Voilà, for every hub user.",
     "source": {"type": "storage", "path": "notebooks"}, "access": {"mode": "authenticated"}},
]  # fmt: skip


async def wait_ready(session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 120
    for url in (f"{BASE}/hub/health", f"{BASE}/dashboards/_/health"):
        while True:
            try:
                async with session.get(url) as r:
                    if r.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                sys.exit("demo: the hub or Podium did not come up in 120 s; see the log above")
            await asyncio.sleep(0.5)


async def main() -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session)
        async with session.post(
            f"{BASE}/hub/api/users/alice/tokens",
            json={"note": "demo seed", "expires_in": 600},
            headers={"Authorization": f"token {SEED}"},
        ) as r:
            token = (await r.json())["token"]
        for example in EXAMPLES:
            async with session.post(
                f"{BASE}/dashboards/_/api/dashboards", json=example,
                headers={"Authorization": f"token {token}"},
            ) as r:  # fmt: skip
                if r.status not in (201, 409):
                    print(
                        f"demo: could not publish {example['name']}: {await r.text()}",
                        file=sys.stderr,
                    )
    print(
        f"""
==============================================================================
 Podium demo is running.   Open  {BASE}/dashboards/
 Log in as alice, bob, carol or admin; the password is "{PASSWORD}".
   {BASE}/dashboards/alice/sales/   Streamlit, group analysts (bob) + alice
   {BASE}/dashboards/alice/report/  Voila, every hub user
 The first visit starts a dashboard (a progress page shows the start).
 API:  {BASE}/dashboards/_/api/openapi.json     Stop with Ctrl+C.
==============================================================================""",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
