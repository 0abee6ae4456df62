"""Processes the tests start and look at: as another user, in an install's PID namespace.

Each prints ``ready`` once it is; each is killed and reaped after its ``with`` block.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from runners import pidns
from runners.main import copy_to

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
SYSTEM_PYTHON = "/usr/bin/python3"  # the runner's program needs its standard library only


@contextmanager
def shared_folder() -> Iterator[str]:
    """A folder any user may use (not under a folder of root's alone), the runner's
    program copied into its ``program``."""
    where = tempfile.mkdtemp(dir="/tmp")
    os.chmod(where, 0o777)
    try:
        copy_to(f"{where}/program")
        yield where
    finally:
        shutil.rmtree(where)


@contextmanager
def started(argv: Sequence[str], **options: Any) -> Iterator[subprocess.Popen[str]]:
    """``argv`` running, once it said ``ready``."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, **options)
    assert process.stdout is not None
    try:
        assert process.stdout.readline() == "ready\n"
        yield process
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


@contextmanager
def in_namespace(
    code: str, *args: str
) -> Iterator[tuple[subprocess.Popen[str], pidns.Freezer, set[int]]]:
    """``code`` run as an install's pip is: by the reaper, in a PID namespace of its own
    whose first process freezes it on demand; the process, the freezer, and the test's
    processes before it."""
    freezer = pidns.Freezer()
    before = pidns.descendants()
    control = freezer.reaper.fileno()
    try:
        with started(pidns.wrap([sys.executable, "-c", code, *args], control),
                     pass_fds=(control,), preexec_fn=lambda: pidns.enter(False)) as process:  # fmt: skip
            freezer.reaper.close()
            yield process, freezer, before
    finally:
        freezer.close()
