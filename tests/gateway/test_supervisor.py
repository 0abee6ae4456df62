"""The supervisor behind ``podium``: a dead gateway is started again at once, a refused
configuration is not, signals reach the gateway, and a killed supervisor leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from gateway.supervisor import MAX_DELAY, restart_delay

# The "gateway": writes its pid, then waits for a signal (SIGTERM: exit 0).
CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
open(sys.argv[1], "a").write(f"{os.getpid()}\\n")
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 600)
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
"""


def supervisor(tmp_path: Path, *child_args: str) -> tuple[subprocess.Popen[bytes], Path]:
    pids = tmp_path / "pids"
    command = [sys.executable, "-c", CHILD, str(pids), *child_args]
    code = f"from gateway.supervisor import supervise; raise SystemExit(supervise({command!r}))"
    return subprocess.Popen([sys.executable, "-c", code]), pids


def children_seen(pids: Path, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = [int(line) for line in pids.read_text().split()] if pids.exists() else []
        if len(seen) >= count:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} gateways started")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("quick_failures", "delay"), [(0, 0.0), (1, 1.0), (2, 2.0), (5, 16.0), (50, MAX_DELAY)]
)
def test_restart_delay_grows_with_quick_deaths_in_a_row(quick_failures: int, delay: float) -> None:
    assert restart_delay(quick_failures) == delay


@pytest.mark.functional
def test_a_killed_gateway_is_started_again_and_sigterm_stops_both(tmp_path: Path) -> None:
    sup, pids = supervisor(tmp_path)
    try:
        first = children_seen(pids, 1)[0]
        os.kill(first, signal.SIGKILL)
        second = children_seen(pids, 2)[1]
        assert psutil.pid_exists(second) and second != first
        sup.send_signal(signal.SIGTERM)
        assert sup.wait(20) == 0
        assert not psutil.pid_exists(second) or psutil.Process(second).status() == "zombie"
    finally:
        sup.kill()


@pytest.mark.functional
def test_a_refused_configuration_is_not_started_again(tmp_path: Path) -> None:
    sup, pids = supervisor(tmp_path, "0", "2")  # exits 2 at once, as podium does then
    assert sup.wait(20) == 2
    assert len(children_seen(pids, 1)) == 1


@pytest.mark.functional
def test_a_supervisor_killed_with_9_takes_its_gateway_along(tmp_path: Path) -> None:
    sup, pids = supervisor(tmp_path)
    child = psutil.Process(children_seen(pids, 1)[0])
    sup.kill()
    sup.wait()
    child.wait(10)  # told by the parent-death signal; nothing left holding the port
