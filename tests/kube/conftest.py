"""Fixtures shared by the Kubernetes tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.harness import APPS, free_port, wait_listening


@pytest.fixture(scope="module")
def served_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Streamlit app in a git repository served by ``git daemon`` on loopback."""
    base = tmp_path_factory.mktemp("git")
    shutil.copytree(APPS / "streamlit", base / "repo")
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "app"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=base / "repo",
            check=True,
        )
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", f"--port={port}",
         f"--base-path={base}", str(base)],
    )  # fmt: skip
    try:
        wait_listening(port)
        yield f"git://127.0.0.1:{port}/repo"
    finally:
        daemon.terminate()
        daemon.wait(10)
