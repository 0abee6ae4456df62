"""Scale: 500 registered dashboards, 50 running, 200 viewers spread over the running ones.

The viewers are 200 kept-alive connections (wrk) through the full path (the hub's proxy
and the gateway), each request for a page of a random running dashboard.
"""

from __future__ import annotations

import asyncio

from bench.measure import table, wrk
from bench.paths import COMMAND, Setup, api, on_its_origin, ready

REGISTERED, RUNNING, VIEWERS = 500, 50, 200


async def scale(s: Setup, seconds: float) -> None:
    stack = s.stack
    source = {"type": "storage", "path": "bench"}
    names = [f"scale-{i:03d}" for i in range(REGISTERED)]
    for name in names:
        body = {
            "name": name,
            "framework": "custom",
            "command": COMMAND,
            "source": source,
            "access": {"mode": "authenticated"},
        }
        await api(stack, s.token, "POST", "/dashboards", body)
    running = names[:RUNNING]
    for name in running:
        await api(stack, s.token, "POST", f"/dashboards/alice/{name}/start")
    await asyncio.gather(*(ready(stack, s.token, name, 300) for name in running))
    script = stack.dir / "viewers.lua"
    # Each request for a random dashboard, on its own origin when the stack is isolated.
    pages = ", ".join(
        f'{{"/dashboards/alice/{name}/", "{stack.dashboard_host("alice", name)}"}}'
        for name in running
    )
    script.write_text(
        f"local pages = {{{pages}}}\n"
        "request = function()\n"
        "  local page = pages[math.random(#pages)]\n"
        "  return wrk.format('GET', page[1], {Host = page[2]})\n"
        "end\n"
    )
    one = {**s.auth, **on_its_origin(stack, running[0])}
    gateway = stack.gateway()
    rows = []
    for label, url, headers, lua in (
        (f"spread over {RUNNING}", stack.base + "/", s.auth, str(script)),
        ("all on one", stack.base + f"/dashboards/alice/{running[0]}/", one, None),
    ):
        gateway.cpu_percent()
        load = await asyncio.to_thread(wrk, url, headers, seconds * 3, VIEWERS, lua)
        cpu = gateway.cpu_percent()
        rss = gateway.memory_info().rss / 2**20
        rows.append(
            [
                label,
                f"{load.rps:,.0f}",
                f"{load.p50:.2f}",
                f"{load.p99:.2f}",
                f"{rss:.0f}",
                f"{cpu:.0f}",
            ]
        )
    table(
        f"4. scale: {REGISTERED} dashboards, {RUNNING} running, {VIEWERS} viewers (wrk, full path)",
        ["viewers", "req/s", "p50 ms", "p99 ms", "gateway RSS MiB", "gateway CPU %"],
        rows,
    )
    script.unlink()
