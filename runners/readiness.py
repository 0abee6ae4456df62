"""Is the framework up? Its recipe's probe path, asked until it answers 2xx or 3xx.

The probe goes where the guard's requests go (relay.policy.Target): the framework's
address on the host's network, or a connection through the door of its private one
(runners.netns). One plain HTTP/1.1 request per try; only the status line is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from relay.policy import Target
from runners.errors import FrameworkStartError, ReadinessTimeout
from runners.framework import Framework

PROBE_TIMEOUT = 10.0


async def http_status(target: Target, path: str, host: str) -> int:
    """The status of ``GET path`` at ``target`` (``path`` sent verbatim: a prefix's
    ``%27`` stays as it is, the way the framework serves it)."""
    if isinstance(target, tuple):
        reader, writer = await asyncio.open_connection(*target)
    elif isinstance(target, str):
        reader, writer = await asyncio.open_unix_connection(target)
    else:
        reader, writer = await asyncio.open_connection(sock=await target.connect())
    try:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: podium-runner\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("latin-1"))
        await writer.drain()
        line = await reader.readline()
    finally:
        writer.close()
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP response: {line[:80]!r}")
    return int(parts[1])


async def wait_ready(
    framework: Framework, target: Target, path: str, host: str, timeout: float
) -> None:
    """Poll until the probe answers 2xx/3xx, the process dies, or time runs out."""
    began = time.monotonic()
    deadline = began + timeout
    delay = 0.02  # a refused connection costs little: find the framework the moment it listens
    while True:
        if framework.returncode is not None:
            code = await framework.wait()
            raise FrameworkStartError(
                f"the framework exited with code {code} before it was ready",
                log_tail=framework.tail(),
            )
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            async with asyncio.timeout(PROBE_TIMEOUT):
                if await http_status(target, path, host) < 400:
                    return
        if time.monotonic() >= deadline:
            raise ReadinessTimeout(
                f"the framework was not ready within {timeout:.0f} s (probe http://{host}{path})",
                log_tail=framework.tail(),
            )
        await asyncio.sleep(delay)
        if time.monotonic() - began > 20:  # a slow start: poll less
            delay = min(delay * 1.5, 1.0)
