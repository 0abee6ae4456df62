"""Throw-away system users, and a Python they can run: for runners that run as their owner
(``c.LocalLauncher.run_as_owner``). Needs root and useradd; tests skip without them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def system_users(*names: str) -> Iterator[list[str]]:
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create throw-away system users")
    for name in names:
        subprocess.run(["userdel", "-r", name], capture_output=True)
        subprocess.run(["useradd", "--create-home", name], check=True)
    try:
        yield list(names)
    finally:
        for name in names:
            subprocess.run(["userdel", "-r", name], capture_output=True)


def open_up(folder: Path) -> None:
    """Let other users through ``folder`` and its parents up to /tmp (pytest makes them 0700),
    so that what protects a file in a test is its own mode, as on a real host."""
    for each in (folder, *folder.parents):
        if each == Path("/tmp"):
            break
        each.chmod(0o755)


def shared_python(folder: Path) -> str:
    """A Python with Podium installed that other users can run (the test's own may be private)."""
    system = shutil.which("python3.11", path="/usr/bin") or shutil.which("python3", path="/usr/bin")
    if system is None:
        pytest.skip("no system Python to build a shared environment from")
    folder.mkdir(parents=True, exist_ok=True)
    open_up(folder)
    subprocess.run([system, "-m", "venv", "--without-pip", str(folder)], check=True)
    pip = [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install", "-q"]
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True)
    subprocess.run([*pip, "aiohttp", "psutil"], check=True)
    return str(folder / "bin" / "python")
