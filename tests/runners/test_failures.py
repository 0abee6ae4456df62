"""Bad input and broken apps: a clear message and a non-zero exit code, never a hang."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import APPS, app_spec, make_spec, silent_server, start_runner

pytestmark = pytest.mark.functional

# The console script installed beside this interpreter, as an admin would call it.
RUNNER_SCRIPT = str(Path(sys.executable).parent / "podium-runner")


async def run_to_exit(spec: dict[str, Any], tmp_path: Path, timeout: float = 90) -> tuple[int, str]:
    runner = await start_runner(spec, tmp_path)
    code = await runner.exit_code(timeout)
    return code, runner.output()


def directory(root: Path) -> dict[str, Any]:
    return {"type": "directory", "root": str(root)}


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"framework": "flask-ish"}, 2, "unknown framework 'flask-ish'"),
        ({"entry": "missing.py"}, 4, "the entry file 'missing.py' does not exist"),
        ({"entry": "../dash/app.py"}, 2, "spec.entry must not contain '..'"),
        ({"entry": "/etc/passwd"}, 2, "spec.entry must be relative"),
        ({"credential": "short"}, 2, "a credential of at least 16 characters is required"),
        ({"prefix": "dashboards/alice"}, 2, "spec.prefix must look like /a/b/"),
        ({"source": {"type": "directory", "root": "/nonexistent/podium"}}, 3, "does not exist"),
        (
            {"source": {"type": "directory", "root": str(APPS), "path": "../.."}},
            2,
            "must not contain '..'",
        ),
        ({"surprise": True}, 2, "unknown field(s) surprise"),
    ],
)
async def test_bad_spec(tmp_path: Path, change: dict[str, Any], code: int, message: str) -> None:
    spec = app_spec("streamlit", "app.py")
    spec.update(change)
    exit_code, output = await run_to_exit(spec, tmp_path)
    assert exit_code == code, output
    assert message in output


async def test_entry_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    outside = tmp_path / "secret.py"
    outside.write_text("print('outside')\n")
    (root / "app.py").symlink_to(outside)
    spec = make_spec("streamlit", directory(root), "app.py")
    exit_code, output = await run_to_exit(spec, tmp_path / "run")
    assert exit_code == 4, output
    assert "leads outside its folder" in output


async def test_source_path_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    (root / "apps").symlink_to(APPS / "streamlit")
    spec = make_spec(
        "streamlit", {"type": "directory", "root": str(root), "path": "apps"}, "app.py"
    )
    exit_code, output = await run_to_exit(spec, tmp_path / "run")
    assert exit_code == 3, output
    assert "leads outside its folder" in output


async def test_app_crashing_at_import(tmp_path: Path) -> None:
    spec = make_spec("streamlit", directory(APPS / "broken"), "crash.py")
    spec["framework"] = "dash"  # Dash imports the script before it serves anything
    exit_code, output = await run_to_exit(spec, tmp_path)
    assert exit_code == 6, output
    assert "exited with code 1 before it was ready" in output
    assert "ModuleNotFoundError: No module named 'definitely_not_an_installed_module'" in output
    assert "last " in output and "lines of output" in output


async def test_port_in_use(tmp_path: Path) -> None:
    async with silent_server() as port:
        spec = app_spec("streamlit", "app.py", port=port)
        exit_code, output = await run_to_exit(spec, tmp_path)
    assert exit_code == 5, output
    assert f"cannot listen on 127.0.0.1:{port}" in output


async def test_readiness_timeout(tmp_path: Path) -> None:
    spec = make_spec(
        "custom", directory(APPS / "custom"), custom={"command": ["sleep", "60"]}, ready_timeout=1.5
    )
    exit_code, output = await run_to_exit(spec, tmp_path)
    assert exit_code == 7, output
    assert "was not ready within 2 s" in output


async def test_framework_dying_after_ready(tmp_path: Path) -> None:
    command = ["{python}", "exits_later.py", "{port}", "3"]
    spec = make_spec(
        "custom", directory(APPS / "custom"), custom={"command": command, "strip_prefix": True}
    )
    runner = await start_runner(spec, tmp_path)
    await runner.wait_ready()
    code = await runner.exit_code(30)
    assert code == 8, runner.output()
    assert "the framework exited with code 3" in runner.output()


async def test_missing_spec(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        RUNNER_SCRIPT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"no launch spec" in out


async def test_spec_from_environment(tmp_path: Path) -> None:
    spec = make_spec(
        "custom", directory(APPS / "custom"), custom={"command": ["sleep", "60"]}, ready_timeout=1
    )
    credential = spec.pop("credential")
    proc = await asyncio.create_subprocess_exec(
        RUNNER_SCRIPT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={
            **os.environ,
            "PODIUM_LAUNCH_SPEC": json.dumps(spec),
            "PODIUM_RUNNER_CREDENTIAL": credential,
        },
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 7, out  # the spec parsed; the sleeping "app" never became ready
