"""One real round trip per framework, spoken in that framework's own protocol.

Each function talks to a running runner through its guard (with the
credential) and asserts that the app answered with content it computed, over
the channel its browser client uses: a WebSocket for Voilà, Streamlit, Panel,
Bokeh, Shiny and the custom app; Dash's callback POST and Gradio's
server-sent events (neither uses a WebSocket).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests.support.harness import Runner

Exchange = Callable[[aiohttp.ClientSession, Runner, str], Awaitable[None]]

# The entry file of each framework's test app (tests/apps/<framework>/), and a text its page shows.
ENTRIES = {
    "voila": "demo.ipynb",
    "streamlit": "app.py",
    "panel": "app.py",
    "bokeh": "app.py",
    "dash": "app.py",
    "gradio": "app.py",
    "shiny": "app.py",
    "custom": "",
}
TITLES = {
    "voila": "Hello from Voila",
    "streamlit": "",
    "panel": "",
    "bokeh": "",
    "dash": "",
    "gradio": "",
    "shiny": "Hello from Shiny",
    "custom": "Hello from custom",
}


def ws_url(runner: Runner, path: str) -> str:
    return runner.url.replace("http://", "ws://", 1) + path


def ws_headers(runner: Runner) -> dict[str, str]:
    return {**runner.headers, "Origin": runner.base}


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, found: Callable[[Any], bool], limit: int = 200
) -> Any:
    for _ in range(limit):
        msg = await ws.receive(timeout=60)
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        if found(msg.data):
            return msg.data
    raise AssertionError("the expected message never came")


async def voila(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    assert "the answer is 42" in page
    kernel_id = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page)
    assert kernel_id, "the Voilà page names its kernel"
    url = ws_url(runner, f"api/kernels/{kernel_id.group(1)}/channels")
    async with session.ws_connect(url, headers=ws_headers(runner)) as ws:
        msg_id = uuid.uuid4().hex
        await ws.send_json(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "kernel_info_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "content": {},
                "channel": "shell",
                "buffers": [],
            }
        )
        reply = await receive_until(
            ws,
            lambda d: (
                isinstance(d, str)
                and json.loads(d)["parent_header"].get("msg_id") == msg_id
                and json.loads(d)["msg_type"] == "kernel_info_reply"
            ),
        )
        assert json.loads(reply)["content"]["status"] == "ok"


async def streamlit(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    async with session.ws_connect(
        ws_url(runner, "_stcore/stream"), headers=ws_headers(runner), protocols=["streamlit"]
    ) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = ""
        await ws.send_bytes(back.SerializeToString())

        def shows_result(data: Any) -> bool:
            if not isinstance(data, bytes):
                return False
            fwd = ForwardMsg()
            fwd.ParseFromString(data)
            return b"square is 9" in fwd.SerializeToString()

        await receive_until(ws, shows_result)


def bokeh_message(msgtype: str, msgid: str) -> list[str]:
    return [json.dumps({"msgid": msgid, "msgtype": msgtype}), "{}", "{}"]


async def _bokeh_session(
    session: aiohttp.ClientSession, runner: Runner, page: str, text: str
) -> None:
    token = re.search(r'"token":\s*"([^"]+)"', page)
    assert token, "the page carries a Bokeh session token"
    async with session.ws_connect(
        ws_url(runner, "app/ws"), headers=ws_headers(runner), protocols=["bokeh", token.group(1)]
    ) as ws:
        ack = await ws.receive_str(timeout=60)
        assert json.loads(ack)["msgtype"] == "ACK"
        await ws.receive_str(timeout=10)  # metadata
        await ws.receive_str(timeout=10)  # content
        for frame in bokeh_message("PULL-DOC-REQ", "podium-1"):
            await ws.send_str(frame)
        header = json.loads(await receive_until(ws, lambda d: '"PULL-DOC-REPLY"' in d))
        assert header["reqid"] == "podium-1"
        await ws.receive_str(timeout=10)  # metadata
        content = await ws.receive_str(timeout=10)
        assert text in content


async def panel(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    await _bokeh_session(session, runner, page, "square is 9")


async def bokeh(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    await _bokeh_session(session, runner, page, "Hello from Bokeh")


async def dash(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    body = {
        "output": "shout.children",
        "outputs": {"id": "shout", "property": "children"},
        "inputs": [{"id": "name", "property": "value", "value": "podium"}],
        "changedPropIds": ["name.value"],
        "state": [],
    }
    async with session.post(
        runner.url + "_dash-update-component", json=body, headers=runner.headers
    ) as r:
        assert r.status == 200, await r.text()
        assert "HELLO PODIUM" in await r.text()


async def gradio(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    async with session.post(
        runner.url + "gradio_api/call/shout", json={"data": ["podium"]}, headers=runner.headers
    ) as r:
        assert r.status == 200, await r.text()
        event_id = (await r.json())["event_id"]
    async with session.get(
        runner.url + f"gradio_api/call/shout/{event_id}", headers=runner.headers
    ) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert "HELLO PODIUM" in await r.text()


async def shiny(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    async with session.ws_connect(ws_url(runner, "websocket/"), headers=ws_headers(runner)) as ws:
        data = {"name": "podium", ".clientdata_output_greeting_hidden": False}
        await ws.send_str(json.dumps({"method": "init", "data": data}))
        await receive_until(ws, lambda d: isinstance(d, str) and "HELLO PODIUM" in d)


async def custom(session: aiohttp.ClientSession, runner: Runner, page: str) -> None:
    async with session.ws_connect(ws_url(runner, "ws"), headers=ws_headers(runner)) as ws:
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=10) == "echo: ping"


EXCHANGES: dict[str, Exchange] = {
    "voila": voila,
    "streamlit": streamlit,
    "panel": panel,
    "bokeh": bokeh,
    "dash": dash,
    "gradio": gradio,
    "shiny": shiny,
    "custom": custom,
}
