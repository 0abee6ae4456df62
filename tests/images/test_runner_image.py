"""The runner image's Dockerfile and the Python environment the tests run in are the same."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from runners.recipes import RECIPES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "images" / "runner"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def pins() -> dict[str, str]:
    found = {}
    for line in (RUNNER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[name] = version
    return found


@pytest.mark.parametrize(("name", "version"), sorted(pins().items()))
def test_tests_run_on_the_pinned_versions(name: str, version: str) -> None:
    assert metadata.version(name) == version


def test_every_framework_is_in_the_image() -> None:
    needed = {"voila", "streamlit", "panel", "bokeh", "dash", "gradio", "shiny"}
    assert needed <= set(RECIPES)
    assert needed <= set(pins())


def test_runner_dockerfile() -> None:
    steps = instructions(RUNNER / "Dockerfile")
    run = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip install --no-cache-dir -r /tmp/requirements.txt" in run
    assert ("COPY", "images/runner/requirements.txt /tmp/requirements.txt") in steps
    assert "git" in run.split() and "tini" in run.split()
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    entry = [arg for op, arg in steps if op == "ENTRYPOINT"]
    assert entry and "podium-runner" in entry[-1]


def test_gateway_dockerfile_is_not_root() -> None:
    steps = instructions(ROOT / "Dockerfile")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
