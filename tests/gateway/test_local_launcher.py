"""The local launcher on its own: a real runner process per dashboard, started and stopped."""

from __future__ import annotations

import asyncio
import pwd
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from traitlets import TraitError

from gateway.domain.dashboards import Dashboard, Source
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.runtime import Runtime
from gateway.domain.store import Store
from gateway.launchers.base import LauncherError
from gateway.launchers.local import LocalLauncher
from runners.names import UnusableName
from tests.support import owners
from tests.support.owners import system_users

pytestmark = pytest.mark.functional

APP = Path(__file__).resolve().parents[1] / "apps" / "custom" / "bench.py"
COMMAND = ("{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}")


def dashboard(owner: str) -> Dashboard:
    return Dashboard(
        owner=owner, name="probe", framework="custom", command=COMMAND, source=Source(path="app")
    )


def alices_launcher(tmp_path: Path, **options: Any) -> LocalLauncher:
    """A launcher whose storage holds alice's copy of the benchmarks' app."""
    (tmp_path / "home" / "alice" / "app").mkdir(parents=True)
    shutil.copy(APP, tmp_path / "home" / "alice" / "app" / "bench.py")
    return LocalLauncher(
        "/dashboards/",
        ["https"],
        [],
        user_root=f"{tmp_path}/home/{{username}}",
        state_dir=str(tmp_path / "runners"),
        **options,
    )


async def until_ready(launcher: LocalLauncher, d: Dashboard, runtime: Runtime) -> None:
    deadline = time.monotonic() + 60
    while not (await launcher.inspect(d, runtime)).ready:
        assert time.monotonic() < deadline, await launcher.logs(d, runtime, 40)
        await asyncio.sleep(0.2)


async def test_start_inspect_logs_stop(tmp_path: Path) -> None:
    launcher = alices_launcher(tmp_path)
    d = dashboard("alice")
    runtime = await launcher.start(d, "launch1", "c" * 32)
    try:
        await until_ready(launcher, d, runtime)
        spec = tmp_path / "runners" / "alice" / "probe" / "spec.json"
        assert oct(spec.stat().st_mode & 0o777) == "0o600"  # it holds the runner credential
        environ = psutil.Process(runtime.details["pid"]).environ()
        assert not any(k.startswith("JUPYTERHUB") for k in environ), "no hub token reaches a runner"
        said = await launcher.logs(d, runtime, 50)
        assert any("ready after" in line for line in said)
        assert any(line.endswith("in a network of its own: private") for line in said)
    finally:
        await launcher.stop(d, runtime)
        await launcher.close()
    assert not (await launcher.inspect(d, runtime)).running


@pytest.fixture
def system_user() -> Iterator[str]:
    with system_users("podium-test-owner") as (name,):
        yield name


@pytest.fixture(scope="module")
def shared_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    return owners.shared_python(tmp_path_factory.mktemp("owner-venv"))


async def test_run_as_owner(tmp_path: Path, system_user: str, shared_python: str) -> None:
    account = pwd.getpwnam(system_user)
    app = Path(account.pw_dir) / "app"
    app.mkdir()
    shutil.copy(APP, app / "bench.py")
    shutil.chown(app, system_user, system_user)
    tmp_path.chmod(0o755)
    launcher = LocalLauncher(
        "/dashboards/",
        ["https"],
        [],
        user_root="/home/{username}",
        state_dir=str(tmp_path / "runners"),
        run_as_owner=True,
        runner_command=[shared_python, "-m", "runners"],
    )
    d = dashboard(system_user)
    runtime = await launcher.start(d, "launch1", "c" * 32)
    try:
        await until_ready(launcher, d, runtime)
        assert psutil.Process(runtime.details["pid"]).uids().real == account.pw_uid
    finally:
        await launcher.stop(d, runtime)
        await launcher.close()
    assert not (await launcher.inspect(d, runtime)).running


async def test_a_warm_runner_takes_the_next_dashboard(tmp_path: Path) -> None:
    launcher = alices_launcher(tmp_path, warm_runners=1)
    await launcher.open()
    await launcher._warm.filled()
    waiting = psutil.Process(launcher._warm.waiting[0].pid)
    assert "--warm" in waiting.cmdline()
    # Its framework's network is made while it waits (the door, and pasta for egress).
    for _ in range(200):
        helpers = " | ".join(" ".join(c.cmdline()) for c in waiting.children())
        if "runners.door" in helpers and "pasta" in helpers:
            break
        await asyncio.sleep(0.05)
    assert "runners.door" in helpers and "pasta" in helpers, helpers
    d = dashboard("alice")
    runtime = await launcher.start(d, "launch1", "c" * 32)
    try:
        assert runtime.details["pid"] == waiting.pid, "the waiting runner took it"
        await until_ready(launcher, d, runtime)
        assert waiting.cwd() == str(tmp_path / "runners" / "alice" / "probe")
        said = await launcher.logs(d, runtime, 50)
        assert any("ready after" in line for line in said)
        assert any("in a network of its own: private (made ahead)" in line for line in said)
        await launcher._warm.filled()
        assert (
            len(launcher._warm.waiting) == 1 and launcher._warm.waiting[0].pid != waiting.pid
        )  # refilled
        spare = psutil.Process(launcher._warm.waiting[0].pid)
    finally:
        await launcher.stop(d, runtime)
        await launcher.close()
    assert not waiting.is_running() or waiting.status() == psutil.STATUS_ZOMBIE
    # The spare runner saw its stdin close with the gateway and left: nothing stays behind.
    psutil.wait_procs([spare], timeout=10)
    assert not spare.is_running() or spare.status() == psutil.STATUS_ZOMBIE


class RefusedSpec(LocalLauncher):
    """A launcher that writes a spec its runner refuses: what every start of an e-mail
    owner's dashboard was before issue 13 (the runner refused /dashboards/jane.doe%40…/)."""

    def spec(self, dashboard: Dashboard, port: int, credential: str) -> dict[str, Any]:
        return {**super().spec(dashboard, port, credential), "prefix": "/dashboards/a b/probe/"}


async def test_a_refused_spec_fails_plainly_and_is_not_retried_by_visits(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/podium.sqlite")
    await store.open()
    launcher = RefusedSpec(
        "/dashboards/", ["https"], [], user_root=f"{tmp_path}/home/{{username}}",
        state_dir=str(tmp_path / "runners"), warm_runners=1,
    )  # fmt: skip
    await launcher.open()
    lifecycle = Lifecycle(store, launcher, b"s" * 32, ready_timeout=60)
    try:
        d = await store.create(dashboard("alice"))
        for _ in range(2):  # the second start: by a warm runner (started at open)
            await asyncio.wait_for(lifecycle.start(d), 60)
            d = await store.get("alice", "probe")
            assert d.status == "failed"
            assert d.message.startswith("the launch spec was refused: spec.prefix must look like")
            record = await store.runtime("alice", "probe")
            assert not replace(record, retry_at=0).may_retry(), "a visit must not retry it"
        assert sum("error: the launch spec was refused" in line
                   for line in await launcher.logs(d, None, 100)) == 2  # fmt: skip
    finally:
        await lifecycle.close()
        await launcher.close()
        await store.close()


@pytest.mark.parametrize(
    ("user_root", "owner", "folder"),
    [
        ("/home/{username}", "jane.doe@example.org", "/home/jane.doe@example.org"),
        ("/home/{username}", "o'neil", "/home/o'neil"),
        ("/home/{username}", "ünï", "/home/ünï"),
        ("/srv/{username}/work", "12345", "/srv/12345/work"),
        ("/home/{username}", "..", None),
        ("/home/{username}", ".", None),
        ("/home/.{username}", ".", None),  # "/home/..": the template's text next to the name
        ("/home/{username}", "_", None),
    ],
)
def test_storage_never_climbs_out_of_its_root(
    user_root: str, owner: str, folder: str | None
) -> None:
    launcher = LocalLauncher(user_root=user_root, state_dir="/tmp/podium-runners")
    if folder is None:
        with pytest.raises(UnusableName):
            launcher.storage(owner)
        return
    assert launcher.storage(owner) == Path(folder)
    d = Dashboard(owner=owner, name="q3", framework="streamlit", entry="app.py")
    assert launcher.folder(d) == Path("/tmp/podium-runners").resolve() / owner / "q3"


async def test_a_dashboard_from_a_shared_folder(tmp_path: Path) -> None:
    """Hybrid storage: the source is a folder every user shares, not the owner's own
    (alice's storage has no such app); the sandbox lets it read there."""
    team = tmp_path / "shared" / "team"
    (team / "tools").mkdir(parents=True)
    shutil.copy(APP, team / "tools" / "shared_bench.py")
    launcher = alices_launcher(tmp_path, shared_folders={"team": str(team)})
    command = ("{python}", "shared_bench.py", "--port", "{port}", "--prefix", "{prefix}")
    d = Dashboard(owner="alice", name="probe", framework="custom", command=command,
                  source=Source(path="tools", volume="team"))  # fmt: skip
    assert [e.name for e in await launcher.browse("alice", "tools", "team") or []] == [
        "shared_bench.py"
    ]
    assert await launcher.has_file("alice", "tools/shared_bench.py", "team")
    assert not await launcher.has_file("alice", "tools/shared_bench.py")  # not alice's
    runtime = await launcher.start(d, "launch1", "c" * 32)
    try:
        await until_ready(launcher, d, runtime)
    finally:
        await launcher.stop(d, runtime)
        await launcher.close()
    gone = replace(d, source=Source(path="tools", volume="gone"))
    with pytest.raises(LauncherError, match="no longer shares a folder named 'gone'"):
        await launcher.start(gone, "launch2", "c" * 32)


@pytest.mark.parametrize(
    ("folders", "words"),
    [
        ({"Team": "/srv/team"}, "no name for a shared volume"),
        ({"team": "srv/team"}, "not a plain absolute path"),
        ({"team": "/srv/../etc"}, "not a plain absolute path"),
    ],
)
def test_shared_folders_are_checked_at_start(folders: dict[str, str], words: str) -> None:
    with pytest.raises(TraitError, match=words):
        LocalLauncher(shared_folders=folders)
