"""The framework's output in the runner's log is bounded (an app printing without end must
not fill the disk; the log is read by the gateway: gateway/launchers/folders.py)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from runners import framework
from runners.framework import Framework

pytestmark = pytest.mark.unit


async def test_the_log_starts_over_past_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framework, "LOG_LIMIT", 100_000)
    log = tmp_path / "runner.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # as the launcher opens it
    stdout = io.TextIOWrapper(io.FileIO(fd, "w"))
    monkeypatch.setattr(sys, "stdout", stdout)
    code = "import sys\nfor i in range(5000): print('line', i, 'x' * 80)\nprint('last')"
    app = Framework([sys.executable, "-c", code], dict(os.environ), tmp_path, 20)
    await app.start()
    assert await app.wait() == 0
    stdout.close()
    text = log.read_text()
    assert len(text) < 2 * 100_000 + 65536
    assert "earlier output dropped" in text and text.rstrip().endswith("last")
    assert app.tail()[-1] == "last"
