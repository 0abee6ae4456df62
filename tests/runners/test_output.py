"""The framework's output in the runner's log is bounded: an app that prints without end
does not fill the disk (and the gateway reads only a log's tail:
gateway/launchers/folders.py). A real runner, a real app printing past the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners.framework import LOG_LIMIT
from tests.support.harness import make_spec, start_runner

pytestmark = pytest.mark.functional

LOUD = """
import argparse, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
port = parser.parse_args().port
line = "x" * 1023 + "\\n"
for _ in range(LINES):
    sys.stdout.write(line)
print("the last line", flush=True)

class Answer(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

HTTPServer(("127.0.0.1", port), Answer).serve_forever()
"""


async def test_the_log_starts_over_past_its_limit(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    lines = LOG_LIMIT // 1024 + 4096  # 4 MiB past the limit
    (app / "loud.py").write_text(LOUD.replace("LINES", str(lines)))
    command = ["{python}", "loud.py", "--port", "{port}"]
    spec = make_spec(
        "custom", {"type": "directory", "root": str(app)}, "", custom={"command": command}
    )
    runner = await start_runner(spec, tmp_path / "runner")
    try:
        await runner.wait_ready()
    finally:
        assert await runner.stop() == 0
    size = runner.log_path.stat().st_size
    assert size < LOG_LIMIT // 4, size  # what came after the start-over, not 68 MiB
    text = runner.log_path.read_text()
    assert "earlier output dropped" in text and "the last line" in text
