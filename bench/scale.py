"""Scale: 500 registered dashboards, 50 running, 200 viewers spread over the running ones.

The viewers are 200 kept-alive connections (wrk) through the full path (the hub's proxy
and the gateway), each request for a page of a random running dashboard.
"""

from __future__ import annotations

import asyncio

from bench.measure import table, wrk
from bench.paths import COMMAND, Setup, api, ready

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
    paths = ", ".join(f'"/dashboards/alice/{name}/"' for name in running)
    script.write_text(
        f"local paths = {{{paths}}}\n"
        "request = function() return wrk.format('GET', paths[math.random(#paths)]) end\n"
    )
    gateway = stack.gateway()
    rows = []
    for label, url, lua in (
        (f"spread over {RUNNING}", stack.base + "/", str(script)),
        ("all on one", stack.base + f"/dashboards/alice/{running[0]}/", None),
    ):
        gateway.cpu_percent()
        load = await asyncio.to_thread(wrk, url, s.auth, seconds * 3, VIEWERS, lua)
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
