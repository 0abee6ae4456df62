"""What the end-to-end tests do as people do it: call the API, open a link until the app
answers, talk to Streamlit over its WebSocket, wait for a status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

# Imported here, not when first needed: a cold import of streamlit takes seconds, long
# enough for a dashboard with a short idle timeout to stop between a page and its socket.
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.support.hubstack import HubStack

HTML = {"Accept": "text/html"}
# A custom dashboard of tests/apps/custom/inspect_app.py (copied into the owner's "probe"),
# which shows what reached it: headers, bodies, WebSocket frames.
PROBE: dict[str, Any] = {
    "name": "probe",
    "framework": "custom",
    "command": ["{python}", "inspect_app.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "probe"},
    "access": {"mode": "authenticated"},
}


async def api(
    stack: HubStack, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            method,
            f"{stack.podium}_/api{path}",
            json=body,
            headers={"Authorization": f"token {token}"},
        ) as r,
    ):
        return r.status, (
            await r.json() if r.content_type == "application/json" else await r.text()
        )


async def open_until_app(
    session: aiohttp.ClientSession, url: str, marker: str, timeout: float = 120
) -> list[int]:
    """Open ``url`` like a browser until the app itself answers; return the statuses seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(url, headers=HTML) as r:
            seen.append(r.status)
            text = await r.text()
            if r.status == 200 and marker in text:
                return seen
            assert r.status == 202 and "Starting" in text, (r.status, text[:300])
        await asyncio.sleep(0.5)
    raise AssertionError(f"not ready: {seen[-5:]}")


async def streamlit_round_trip(session: aiohttp.ClientSession, stack: HubStack, path: str) -> None:
    url = stack.podium.replace("http", "ws", 1) + path + "_stcore/stream"
    async with session.ws_connect(
        url, headers={"Origin": stack.base}, protocols=["streamlit"]
    ) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = ""
        await ws.send_bytes(back.SerializeToString())
        for _ in range(200):
            msg = await ws.receive(timeout=60)
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
            fwd = ForwardMsg()
            fwd.ParseFromString(msg.data)
            if b"square is 9" in fwd.SerializeToString():
                return
    raise AssertionError("the app never answered over its WebSocket")


async def wait_status(stack: HubStack, tokens: dict[str, str], name: str, wanted: str,
                      start: bool = False, timeout: float = 120) -> None:  # fmt: skip
    if start:
        await api(stack, tokens["alice"], "POST", f"/dashboards/alice/{name}/start")
    deadline = time.monotonic() + timeout
    while (await api(stack, tokens["alice"], "GET", f"/dashboards/alice/{name}"))[1][
        "status"
    ] != wanted:
        assert time.monotonic() < deadline, f"{name} never became {wanted}"
        await asyncio.sleep(0.5)


async def until_ok(
    session: aiohttp.ClientSession, url: str, deadline: float, every: float = 0.1
) -> None:
    """Poll ``url`` until it answers 200 (its head has arrived), up to ``deadline``."""
    while time.monotonic() < deadline:
        try:
            async with session.get(url, allow_redirects=False) as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(every)
    raise AssertionError(f"{url} did not answer 200 in time")


async def started(stack: HubStack, token: str, owner: str, doc: dict[str, object]) -> None:
    status, body = await api(stack, token, "POST", "/dashboards", doc)
    assert status == 201, body
    name = doc["name"]
    await api(stack, token, "POST", f"/dashboards/{owner}/{name}/start")
    for _ in range(600):
        status, body = await api(stack, token, "GET", f"/dashboards/{owner}/{name}")
        if body["status"] == "ready":
            return
        assert body["status"] != "failed", body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{owner}/{name} is {body['status']}")
