"""The relay's connection states, with a raw target: a response, reuse of the target's
connection, a target that closes mid-response, a response head that hides a header, an
upgrade into a tunnel, a complete answer. No gateway, no runner: a policy of a few lines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable

import pytest
import pytest_asyncio

from relay.http1 import Request
from relay.policy import Forward, Policy, Verdict
from relay.server import Relay

pytestmark = pytest.mark.unit

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Straight(Policy):
    """Every request to the target; ``/refuse`` answered here; heads marked when filtered."""

    def __init__(self, target: tuple[str, int], filtered: bool) -> None:
        self.target, self.filtered = target, filtered
        self.tunnels: list[bool] = []

    def decide(self, request: Request, peer: str) -> Verdict:
        if request.path == b"/refuse":
            return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
        head = b"\r\n".join((request.head.start, *request.head.lines)) + b"\r\n\r\n"
        return Forward(head, self.target, "t", filtered=self.filtered)

    def unreachable(self, why: str, tag: Hashable) -> bytes:
        return b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def tunnel(self, tag: Hashable, opened: bool) -> None:
        self.tunnels.append(opened)

    def response_head(self, block: bytes, tag: Hashable) -> bytes:
        return block + b"\r\nX-Filtered: yes"


class Target:
    """A raw TCP server answering with ``serve``; counts its connections."""

    def __init__(self, serve: Serve) -> None:
        self.serve, self.connections = serve, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.serve(reader, writer)
        finally:
            writer.close()


@pytest_asyncio.fixture
async def relay_to() -> AsyncIterator[
    Callable[[Serve, bool], Awaitable[tuple[int, Target, Straight]]]
]:
    made: list[tuple[asyncio.Server, Relay]] = []

    async def make(serve: Serve, filtered: bool = False) -> tuple[int, Target, Straight]:
        target = Target(serve)
        server = await asyncio.start_server(target.handle, "127.0.0.1", 0)
        policy = Straight(("127.0.0.1", server.sockets[0].getsockname()[1]), filtered)
        relay = Relay(policy, 5, 5)
        made.append((server, relay))
        return await relay.start("127.0.0.1", 0), target, policy

    yield make
    for server, relay in made:
        await relay.stop()
        server.close()


async def exchange(port: int, raw: bytes, until_eof: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    try:
        return await asyncio.wait_for(reader.read() if until_eof else reader.read(65536), 10)
    finally:
        writer.close()


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def answer_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with its path."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        writer.write(ok(head.split(b" ")[1]))
        await writer.drain()


GET = b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n"


async def test_requests_on_one_connection_reuse_one_target_connection(relay_to) -> None:  # type: ignore[no-untyped-def]
    port, target, _ = await relay_to(answer_each)
    answer = await exchange(port, GET % b"/a" + GET % b"/b" + GET % b"/c", until_eof=False)
    for _ in range(20):
        if answer.count(b"HTTP/1.1 200") == 3:
            break
        answer += await exchange(port, b"", until_eof=False) if False else b""
        await asyncio.sleep(0.05)
    assert [p in answer for p in (b"/a", b"/b", b"/c")] == [True] * 3
    assert target.connections == 1


async def test_a_complete_answer_is_sent_and_the_connection_ends(relay_to) -> None:  # type: ignore[no-untyped-def]
    port, target, _ = await relay_to(answer_each)
    assert (await exchange(port, GET % b"/refuse")).endswith(b"\r\n\r\nno")
    assert target.connections == 0


async def test_a_target_that_closes_mid_response_ends_the_clients_connection(relay_to) -> None:  # type: ignore[no-untyped-def]
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    port, _, _ = await relay_to(half)
    answer = await exchange(port, GET % b"/")  # returns: the relay closed it
    assert answer.endswith(b"only this")


async def test_an_unreachable_target_gets_the_policys_answer(relay_to) -> None:  # type: ignore[no-untyped-def]
    port, _, policy = await relay_to(answer_each)
    policy.target = ("127.0.0.1", 1)  # nothing listens there
    assert (await exchange(port, GET % b"/")).startswith(b"HTTP/1.1 502")


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\nSet-Cookie: s=planted",  # bare LF
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\rSet-Cookie: s=planted",  # bare CR
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n ; Domain=example.org",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie : s=planted",  # a name, to a browser
        # Framed otherwise by a browser: a second response would ride in the first's body.
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 20",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2x",
        b"HTTP/2 200\r\nContent-Length: 2",
        # To a request that asked no upgrade: an interim answer to a browser, the last to
        # a relay that took it for final; every response after would be paired otherwise.
        b"HTTP/1.1 101 Switching Protocols\r\nX-A: 1",
    ],
)
async def test_a_filtered_head_a_browser_reads_otherwise_is_not_passed_on(
    relay_to, head: bytes
) -> None:  # type: ignore[no-untyped-def]
    async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + b"\r\n\r\nok")
        await writer.drain()

    port, _, _ = await relay_to(sender, True)
    assert await exchange(port, GET % b"/") == b""  # closed, nothing sent
    port, _, _ = await relay_to(answer_each, True)
    assert b"X-Filtered: yes" in await exchange(port, GET % b"/x", until_eof=False)


async def test_an_accepted_upgrade_becomes_a_tunnel_both_ways(relay_to) -> None:  # type: ignore[no-untyped-def]
    async def echo_after_upgrade(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
        )
        writer.write((await reader.readexactly(5))[::-1])
        await writer.drain()

    port, _, policy = await relay_to(echo_after_upgrade)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nhello")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 101") and answer.endswith(b"olleh")
    assert policy.tunnels == [True, False]  # opened, then ended with the target's close


async def test_heads_without_header_lines_pass(relay_to) -> None:  # type: ignore[no-untyped-def]
    async def bare(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    port, _, _ = await relay_to(bare, True)
    answer = await exchange(port, GET % b"/", until_eof=False)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\nX-Filtered: yes\r\n\r\nHTTP/1.1 204")


async def test_a_response_nobody_asked_for_ends_the_connection(relay_to) -> None:  # type: ignore[no-untyped-def]
    """The browser would pair it with its next request (a HEAD: no body), the relay with
    none: what follows would ride unfiltered."""

    async def eager(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ok(b"a") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
        await writer.drain()
        await asyncio.sleep(1)

    port, _, _ = await relay_to(eager, True)
    answer = await exchange(port, GET % b"/a")  # returns: the connection ended
    assert answer.endswith(b"a") and b"extra" not in answer


async def test_a_205_has_no_body_as_for_a_browser(relay_to) -> None:  # type: ignore[no-untyped-def]
    """What a 205's head calls its body is, to a browser, the next response: here one
    nobody asked for, so the connection ends before it (never passed on as body bytes)."""

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        hidden = b"HTTP/1.1 200 OK\r\nSet-Cookie: s=planted\r\nContent-Length: 0\r\n\r\n"
        writer.write(b"HTTP/1.1 205 Reset Content\r\nContent-Length: %d\r\n\r\n" % len(hidden))
        writer.write(hidden)
        await writer.drain()
        await asyncio.sleep(1)

    port, _, _ = await relay_to(reset, True)
    answer = await exchange(port, GET % b"/")
    assert answer.startswith(b"HTTP/1.1 205") and b"planted" not in answer
