"""The proxy path itself, through configurable-http-proxy and the gateway's front door.

A custom app (tests/apps/custom/inspect_app.py) shows what reached it: the
headers a runner's framework sees, bodies streamed both ways, server-sent
events as they are sent, WebSocket text, binary, close codes and
subprotocols. Raw sockets check what a client library would hide: one kept-
alive connection switching between a dashboard and the gateway's own pages,
pipelined requests answered in order, and what a dashboard may not set.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.flows import PROBE
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, client, hub_stack

pytestmark = pytest.mark.functional

PODIUM_EXTRA = 'c.Podium.frameworks = ["custom", "streamlit"]\n'
# The hub checks (and prunes) the proxy's routing table on this period: every second here.
HUB_EXTRA = "c.JupyterHub.last_activity_interval = 1\nc.JupyterHub.log_level = 'DEBUG'\n"


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["one-origin", "isolated"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    """Each dashboard on the gateway's origin, and on its own (everything the same there)."""
    tmp = tmp_path_factory.mktemp("proxy")
    (tmp / "home" / "alice" / "probe").mkdir(parents=True)
    shutil.copy(APPS / "custom" / "inspect_app.py", tmp / "home" / "alice" / "probe")
    isolated = request.param == "isolated"
    async with hub_stack(
        tmp, podium_extra=PODIUM_EXTRA, hub_extra=HUB_EXTRA, isolated=isolated
    ) as s:
        alice = {"Authorization": f"token {await s.token_for('alice')}"}
        async with client(headers=alice) as session:
            async with session.post(s.podium + "_/api/dashboards", json=PROBE) as r:
                assert r.status == 201, await r.text()
            async with session.post(s.podium + "_/api/dashboards/alice/probe/start") as r:
                assert r.status == 202, await r.text()
            for _ in range(240):
                async with session.get(s.podium + "_/api/dashboards/alice/probe") as r:
                    if (await r.json())["status"] == "ready":
                        break
                await asyncio.sleep(0.25)
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bob(stack: HubStack) -> dict[str, str]:
    return {"Authorization": f"token {await stack.token_for('bob')}"}


def probe(stack: HubStack, path: str = "") -> str:
    return stack.dashboard("alice", "probe") + path


async def test_what_reaches_the_dashboard(stack: HubStack, bob: dict[str, str]) -> None:
    sent = {
        **bob,
        "Cookie": "podium-session=forged; app=1; podium-xsrf=x; jupyterhub-session-id=s",
        "X-Podium-User": "admin",
        "X-Podium-Credential": "forged",
        "X-Forwarded-User": "admin",
        "Remote-User": "admin",
        "X-Remote-User": "admin",
        "X-Forwarded-Email": "admin@example.org",
        "X-Forwarded-For": "203.0.113.7",
        "X-Hop": "1",
        "Connection": "keep-alive, X-Hop",
    }
    async with client() as s, s.get(probe(stack, "headers"), headers=sent) as r:
        assert r.status == 200
        pairs: list[list[str]] = (await r.json())["headers"]
    got: dict[str, list[str]] = {}
    for k, v in pairs:
        got.setdefault(k.lower(), []).append(v)
    assert got["x-podium-user"] == ["bob"]  # set by the gateway, the client's dropped
    assert "authorization" not in got and "x-podium-credential" not in got
    assert not {"x-forwarded-user", "remote-user", "x-remote-user", "x-forwarded-email"} & set(got)
    assert got["cookie"] == ["app=1"]
    assert "x-hop" not in got
    # The client's claim, then the proxy's peer, then the gateway's: appended, never replaced.
    chain = "203.0.113.7, 127.0.0.1" if stack.isolated else "203.0.113.7,127.0.0.1, 127.0.0.1"
    assert got["x-forwarded-for"] == [chain]  # a dashboard's own origin skips the hub's proxy
    assert got["host"] == [stack.dashboard_host("alice", "probe")]


async def test_a_10_mb_download_streams_through(stack: HubStack, bob: dict[str, str]) -> None:
    digest, size = hashlib.sha256(), 0
    async with client(headers=bob) as s, s.get(probe(stack, "big")) as r:
        assert r.status == 200 and r.headers.get("Transfer-Encoding") == "chunked"
        async for chunk in r.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
    assert size == 160 * 65536
    assert digest.hexdigest() == hashlib.sha256(b"y" * size).hexdigest()


@pytest.mark.parametrize("chunked", [True, False])
async def test_uploads_stream_through(stack: HubStack, bob: dict[str, str], chunked: bool) -> None:
    block = bytes(range(256)) * 256  # 64 KiB

    async def body() -> AsyncIterator[bytes]:
        for _ in range(200):  # 12.5 MiB
            yield block

    data: Any = body() if chunked else io.BytesIO(block * 200)
    async with (
        client(headers=bob) as s,
        s.post(probe(stack, "upload"), data=data) as r,
    ):
        assert r.status == 200, await r.text()
        got = await r.json()
    assert got == {"size": 200 * len(block), "sha256": hashlib.sha256(block * 200).hexdigest()}


async def test_server_sent_events_arrive_as_they_are_sent(
    stack: HubStack, bob: dict[str, str]
) -> None:
    async with client(headers=bob) as s, s.get(probe(stack, "events")) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        first = await r.content.readline()
        arrived = time.monotonic()
        assert first == b"data: tick 0\n"
        rest = await r.content.read()
        ended = time.monotonic()
    assert rest.count(b"data: tick") == 2
    # The app sends the last event 0.6 s after the first. Had anything on the way held the
    # stream (or the whole body), the first would have come with the rest, at the end.
    assert ended - arrived > 0.4, f"the first event came only {ended - arrived:.2f} s early"


async def test_websocket_messages_close_codes_and_subprotocols(
    stack: HubStack, bob: dict[str, str]
) -> None:
    url = probe(stack, "ws").replace("http", "ws", 1)
    origin = "http://" + stack.dashboard_host("alice", "probe")
    async with (
        client(headers=bob) as s,
        s.ws_connect(url, protocols=("chat.v1",), headers={"Origin": origin}) as ws,
    ):
        assert ws.protocol == "chat.v1"
        await ws.send_str("hello")
        assert (await ws.receive(timeout=10)).data == "echo hello"
        payload = bytes(range(256)) * 256
        await ws.send_bytes(payload)
        assert (await ws.receive(timeout=10)).data == payload[::-1]
        await ws.send_str("close 4001")
        closing = await ws.receive(timeout=10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4001


async def test_a_dashboards_cookies_stay_with_the_dashboard(
    stack: HubStack, bob: dict[str, str]
) -> None:
    async with client(headers=bob) as s, s.get(probe(stack, "cookies")) as r:
        assert r.status == 200
        cookies = {c.split("=", 1)[0]: c for c in r.headers.getall("Set-Cookie")}
        assert "Clear-Site-Data" not in r.headers
    assert sorted(cookies) == ["app-cookie", "app-wide"]  # none of the gateway's or the hub's
    assert "domain" not in cookies["app-wide"].lower()  # host-only: never a parent domain
    # Where the host is shared (the gateway's origin), pinned inside the dashboard's path.
    pinned = "Path=/" if stack.isolated else "Path=/dashboards/alice/probe/"
    assert cookies["app-wide"].endswith(pinned), cookies["app-wide"]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


async def test_one_connection_pipelines_between_dashboard_and_gateway(
    stack: HubStack, bob: dict[str, str]
) -> None:
    """Directly to the gateway's port: a slow dashboard response, then the gateway's own
    page, then the dashboard again, all sent at once: answered in order, on one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.podium_port)
    auth = f"Authorization: {bob['Authorization']}\r\n"
    host = stack.dashboard_host("alice", "probe")
    requests = [
        "GET /dashboards/alice/probe/slow?s=0.4&n=1 HTTP/1.1\r\nHost: " + host + "\r\n" + auth,
        "GET /dashboards/_/health HTTP/1.1\r\nHost: h\r\n",
        "GET /dashboards/alice/probe/slow?s=0&n=3 HTTP/1.1\r\nHost: " + host + "\r\n" + auth,
    ]
    writer.write("".join(r + "\r\n" for r in requests).encode())
    try:
        answers = [await asyncio.wait_for(read_response(reader), 30) for _ in requests]
    finally:
        writer.close()
    assert answers[0] == (200, b"slow 1")
    assert answers[1][0] == 200 and b'"ok": true' in answers[1][1]
    assert answers[2] == (200, b"slow 3")


async def test_malformed_heads_are_refused_at_the_door(stack: HubStack) -> None:
    huge = b"X-Big: " + b"a" * 70000 + b"\r\n"
    for raw, expected in (
        (b"GET /dashboards/alice/probe/ HTTP/1.1\r\nHost: h\r\nX-A: 1\nX-Podium-User: admin\r\n\r\n", 400),
        (b"GET /dashboards/alice/probe/ HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
        (b"POST /dashboards/alice/probe/upload HTTP/1.1\r\nHost: h\r\n"
         b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 400),
        (b"GET /dashboards/alice/probe/ HTTP/1.1\r\nHost: h\r\n" + huge + b"\r\n", 431),
        (b"GET /dashboards/alice/probe/ HTTP/1.1\r\nHost: h\r\n" + huge, 431),  # never ends
    ):  # fmt: skip
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.podium_port)
        writer.write(raw)
        status, _ = await asyncio.wait_for(read_response(reader), 10)
        writer.close()
        assert status == expected, raw[:80]


async def test_a_requests_trailer_fields_are_refused(stack: HubStack, bob: dict[str, str]) -> None:
    """The review of direct connections: a chunked body's trailer (``X-Podium-User``)
    reached the app as sent. A request with one is a 400; the same without, an upload."""
    host = stack.dashboard_host("alice", "probe")
    start = (f"POST /dashboards/alice/probe/upload HTTP/1.1\r\nHost: {host}\r\n"
             f"Authorization: {bob['Authorization']}\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n0\r\n")  # fmt: skip
    for trailer, expected in (("X-Podium-User: admin\r\n", 400), ("", 200)):
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.podium_port)
        writer.write(f"{start}{trailer}\r\n".encode())
        try:
            status, body = await asyncio.wait_for(read_response(reader), 10)
        finally:
            writer.close()
        assert status == expected, body
    assert json.loads(body)["size"] == 5


async def test_the_route_survives_the_hubs_periodic_route_check(
    stack: HubStack, bob: dict[str, str]
) -> None:
    checks = stack.log("jupyterhub").count("Checking routes")
    deadline = asyncio.get_running_loop().time() + 30
    while stack.log("jupyterhub").count("Checking routes") < checks + 3:
        assert asyncio.get_running_loop().time() < deadline, "the hub never checked its routes"
        async with client(headers=bob) as s, s.get(probe(stack, "headers")) as r:
            assert r.status == 200  # reachable all along, the check running every second
        await asyncio.sleep(0.3)


async def test_websockets_from_another_origin_are_refused(
    stack: HubStack, bob: dict[str, str]
) -> None:
    """Only a page of the origin the dashboard is served on may open its WebSocket: on a
    dashboard's own origin, the gateway's origin is another site, and so is another scheme."""
    url = probe(stack, "ws").replace("http", "ws", 1)
    own = stack.dashboard_host("alice", "probe")
    others = ["http://evil.example"]
    if stack.isolated:  # its origin is known, scheme included
        others += [stack.base, f"https://{own}"]  # the hub's own pages; another scheme
    async with client(headers=bob) as s:
        for origin in others:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(url, headers={"Origin": origin})
            assert refused.value.status == 403, origin
        async with s.ws_connect(url, headers={"Origin": f"http://{own}"}) as ws:
            await ws.send_str("hello")
            assert (await ws.receive(timeout=10)).data == "echo hello"


async def raw_exchange(stack: HubStack, bob: dict[str, str], path: str, extra: str = "") -> bytes:
    """One request to the gateway's port as bob, straight: the response, or what came
    before the connection ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.podium_port)
    host = stack.dashboard_host("alice", "probe")
    writer.write(
        f"GET /dashboards/alice/probe/{path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: {bob['Authorization']}\r\n{extra}\r\n".encode()
    )
    try:
        status, body = await asyncio.wait_for(read_response(reader), 30)
    except asyncio.IncompleteReadError as e:
        return e.partial
    finally:
        writer.close()
    return b"HTTP/1.1 %d\r\n\r\n%s" % (status, body)


@pytest.mark.parametrize("how", ["lf", "cr", "fold", "space", "te10", "h101", "r205"])
async def test_a_response_head_with_a_header_hidden_in_it_never_reaches_the_viewer(
    stack: HubStack, bob: dict[str, str], how: str
) -> None:
    """A bare LF or CR, a folded line, a name with a space before its colon: a browser reads
    a Set-Cookie (or a Domain) there that the cookie filter never saw. Transfer-Encoding on
    HTTP/1.0: the browser ends the body where the relay would not, and a response the app
    sends next would reach the browser as one of its own, unfiltered."""
    answer = await raw_exchange(stack, bob, f"smuggle?how={how}")
    assert b"SMUGGLED" not in answer and not answer.startswith(b"HTTP/1.1 200")
    assert (await raw_exchange(stack, bob, "headers")).startswith(b"HTTP/1.1 200")  # still up


async def test_a_dashboard_cannot_install_a_service_worker(
    stack: HubStack, bob: dict[str, str]
) -> None:
    """On its origin it would answer for the sign-in's paths and outlive the visit."""
    answer = await raw_exchange(stack, bob, "headers", "Service-Worker: script\r\n")
    assert answer.startswith(b"HTTP/1.1 403") and b"service worker" in answer
