"""A WebSocket load generator lean enough not to be the bottleneck on two shared cores.

One raw asyncio connection: the client's frames are built (and masked) once and
written in batches; echoes are counted by their length, not parsed. ``window``
messages are kept in flight, as a busy dashboard's socket would have.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from urllib.parse import urlsplit


def client_frame(payload: bytes) -> bytes:
    """A masked binary frame, as a browser sends it."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x82, 0x80 | size])
    elif size < 65536:
        head = bytes([0x82, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x82, 0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def echo_length(size: int) -> int:
    """The length of the server's unmasked frame echoing ``size`` bytes."""
    return size + (2 if size < 126 else 4 if size < 65536 else 10)


async def connect(
    url: str, headers: dict[str, str]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    host = headers.get("Host", parts.netloc)  # a dashboard's own origin, on the same socket
    lines = [
        f"GET {parts.path or '/'} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items() if k != "Host"),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"no WebSocket at {url}: {head[:200]!r}")
    return reader, writer


async def messages_per_second(
    url: str, headers: dict[str, str], size: int, seconds: float, window: int = 64
) -> float:
    """Echoed messages per second with ``window`` messages in flight. No ``Origin``: a script,
    as every path (Podium, jhsingle-native-proxy) lets through without a cross-site check."""
    reader, writer = await connect(url, headers)
    frame, expected = client_frame(b"m" * size), echo_length(size)
    writer.write(frame * window)
    sent, received = window, 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        received += len(await reader.read(1 << 20))
        more = received // expected + window - sent
        if more > 0:
            writer.write(frame * more)
            sent += more
    done = received // expected
    elapsed = time.perf_counter() - began
    writer.close()
    return done / elapsed


async def round_trips(url: str, headers: dict[str, str], size: int, count: int) -> list[float]:
    """Milliseconds per echoed message, one at a time."""
    reader, writer = await connect(url, headers)
    frame, expected = client_frame(b"r" * size), echo_length(size)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        writer.write(frame)
        await reader.readexactly(expected)
        times.append((time.perf_counter() - began) * 1000)
    writer.close()
    return times
