"""A stand-in runner for scale benchmarks: answers every HTTP request with 200 on $POD_IP.

Pods of the simulated cluster run it instead of podium-runner when the benchmark needs
hundreds of running dashboards on one machine (a few MB each instead of a framework's
hundred): the gateway cannot tell, it only sees pods, their readiness and their answers.
"""

import asyncio
import os

BODY = b"ok"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n" + BODY


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(answer, os.environ["POD_IP"], 8888)
    async with server:
        await server.serve_forever()


asyncio.run(main())
