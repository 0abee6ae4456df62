"""Keep the gateway serving: run it as a child process and start it again when it dies.

Whoever started Podium notices a dead gateway late or not at all: JupyterHub
polls a managed service's process every 30 s, a terminal never. So ``podium``
runs the gateway in a child and starts a new one at once when it dies (killed,
out of memory, a crash); running dashboards are adopted by the new one. A
child that dies again soon after its start is started with a growing delay,
and one that refuses its configuration (exit 2) is not started again. The
supervisor forwards SIGINT and SIGTERM and exits as the child does; when the
supervisor itself is killed, the child is told to stop (Linux' parent-death
signal), so nothing is left holding the port for the next start.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger("podium.supervisor")
CONFIG_ERROR = 2  # the gateway refused its configuration: another start would not help
QUICK_EXIT = 10.0  # a child that dies within this many seconds of its start failed to start
MAX_DELAY = 30.0
_PR_SET_PDEATHSIG = 1


def restart_delay(quick_failures: int) -> float:
    """Seconds before the next start after ``quick_failures`` quick deaths in a row."""
    return 0.0 if quick_failures == 0 else min(MAX_DELAY, 0.5 * 2**quick_failures)


def _stop_with(parent: int) -> None:
    """In the child, before it runs the gateway: SIGTERM when the supervisor dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: a killed supervisor leaves its child running
    if os.getppid() != parent:  # the supervisor died before the line above
        os._exit(1)


def _wait(child: subprocess.Popen[bytes]) -> int:
    """The child's exit code; orphans handed to us meanwhile are reaped too (as the first
    process of a container, the supervisor inherits the gateway's orphaned children)."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return child.wait()
        except InterruptedError:
            continue
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode


def gateway_command(argv: list[str]) -> list[str]:
    """The child: the same options, without another supervisor. ``-P``: the working
    directory is not put on the import path (the demo's holds a folder named ``runners``)."""
    return [sys.executable, "-P", "-m", "gateway", *argv, "--Podium.supervise=False"]


def supervise(command: list[str]) -> int:
    """Run ``command`` until it exits on its own or we are told to stop; its exit code."""
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    parent = os.getpid()
    quick_failures = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command, preexec_fn=lambda: _stop_with(parent))
        code = _wait(child)
        if stopping or code in (0, CONFIG_ERROR):
            return max(code, 0)
        ran = time.monotonic() - started
        quick_failures = quick_failures + 1 if ran < QUICK_EXIT else 0
        delay = restart_delay(quick_failures)
        how = f"signal {-code}" if code < 0 else f"code {code}"
        log.error(
            "the gateway exited (%s) after %.1f s; starting it again in %.1f s", how, ran, delay
        )
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return 0
