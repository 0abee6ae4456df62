"""Git sources cloned by a real runner from a real ``git daemon`` on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.harness import free_port, make_spec, silent_server, start_runner, wait_listening

pytestmark = pytest.mark.functional

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Alice",
    "GIT_AUTHOR_EMAIL": "alice@example.org",
    "GIT_COMMITTER_NAME": "Alice",
    "GIT_COMMITTER_EMAIL": "alice@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin",
}


@dataclass
class Repo:
    url: str
    commits: dict[str, str]  # version -> sha


def git(*args: str, cwd: Path) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def commit_version(work: Path, version: str) -> str:
    (work / "app").mkdir(exist_ok=True)
    (work / "app" / "VERSION").write_text(version)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", f"version {version}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    """main: v1 (tag v1), v2; branch feature: v3. Served by git daemon on loopback."""
    base = tmp_path_factory.mktemp("git")
    work = base / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    commits = {"v1": commit_version(work, "v1")}
    git("tag", "v1", cwd=work)
    commits["v2"] = commit_version(work, "v2")
    git("checkout", "-q", "-b", "feature", cwd=work)
    commits["v3"] = commit_version(work, "v3")
    git("checkout", "-q", "main", cwd=work)
    git("clone", "-q", "--bare", str(work), str(base / "dash.git"), cwd=base)
    port = free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(base),
        ],
        env=GIT_ENV,
    )
    try:
        wait_listening(port)
        yield Repo(f"git://127.0.0.1:{port}/dash.git", commits)
    finally:
        daemon.terminate()
        daemon.wait(10)


def git_spec(url: str, dest: Path, ref: str, **source: Any) -> dict[str, Any]:
    src = {
        "type": "git",
        "url": url,
        "ref": ref,
        "dest": str(dest),
        "path": "app",
        "allowed_schemes": ["git"],
        "internal_hosts": ["127.0.0.1"],  # the test's repository is served on loopback
    }
    src.update(source)
    command = ["{python}", "-m", "http.server", "{port}", "--bind", "{host}"]
    return make_spec("custom", src, custom={"command": command, "strip_prefix": True})


@pytest_asyncio.fixture(loop_scope="session")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.mark.parametrize(
    ("ref", "version"),
    [
        ("", "v2"),
        ("main", "v2"),
        ("feature", "v3"),
        ("v1", "v1"),
        ("@v1", "v1"),
        ("@v3", "v3"),
        ("@v2:short", "v2"),
    ],
    ids=[
        "default-branch",
        "branch-main",
        "branch-feature",
        "tag",
        "commit",
        "commit-off-main",
        "short-commit",
    ],
)
async def test_clone_ref(
    repo: Repo, tmp_path: Path, session: aiohttp.ClientSession, ref: str, version: str
) -> None:
    if ref.startswith("@"):
        name, _, short = ref[1:].partition(":")
        ref = repo.commits[name][:10] if short else repo.commits[name]
    runner = await start_runner(git_spec(repo.url, tmp_path / "clone", ref), tmp_path)
    try:
        await runner.wait_ready()
        async with session.get(runner.url + "VERSION", headers=runner.headers) as r:
            assert r.status == 200
            assert await r.text() == version
        assert f"checked out {repo.commits[version]}" in runner.output()
        shallow = (tmp_path / "clone" / ".git" / "shallow").exists()
        assert shallow or ref.startswith(repo.commits[version][:10]), (
            "branches and tags clone shallow"
        )
    finally:
        assert await runner.stop() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc", "points at local files"),
        ("/srv/repos/dash.git", "neither scheme://host/path nor user@host:path"),
        ("ext::sh -c touch% /tmp/podium-pwned", "must not contain spaces"),
        ("ext::sh", "transport helper"),
        ("-upload-pack=touch /tmp/podium-pwned", "starts with '-'"),
        ("https://example.org/dash.git", "scheme 'https' is not allowed"),
    ],
)
async def test_forbidden_urls(tmp_path: Path, url: str, message: str) -> None:
    runner = await start_runner(git_spec(url, tmp_path / "clone", ""), tmp_path)
    assert await runner.exit_code(30) == 2, runner.output()
    assert message in runner.output()
    assert not Path("/tmp/podium-pwned").exists()


async def test_unreachable_repo(tmp_path: Path) -> None:
    url = f"git://127.0.0.1:{free_port()}/nothing.git"
    runner = await start_runner(git_spec(url, tmp_path / "clone", "main"), tmp_path)
    assert await runner.exit_code(60) == 3, runner.output()
    assert "could not fetch main of" in runner.output()


async def test_unknown_ref(repo: Repo, tmp_path: Path) -> None:
    runner = await start_runner(git_spec(repo.url, tmp_path / "clone", "no-such-branch"), tmp_path)
    assert await runner.exit_code(60) == 3, runner.output()
    assert "could not fetch no-such-branch" in runner.output()


async def test_credentials_never_logged(tmp_path: Path) -> None:
    url = f"https://alice:s3cr3t-t0ken@127.0.0.1:{free_port()}/dash.git"
    runner = await start_runner(
        git_spec(url, tmp_path / "clone", "main", allowed_schemes=["https"]), tmp_path
    )
    assert await runner.exit_code(60) == 3, runner.output()
    assert "s3cr3t-t0ken" not in runner.output()
    assert "https://***@127.0.0.1" in runner.output()


async def test_host_allow_list(repo: Repo, tmp_path: Path) -> None:
    spec = git_spec(repo.url, tmp_path / "clone", "", allowed_hosts=["git.example.org"])
    runner = await start_runner(spec, tmp_path)
    assert await runner.exit_code(30) == 2
    assert "git host '127.0.0.1' is not in the allowed list" in runner.output()


async def test_git_timeout(tmp_path: Path) -> None:
    async with silent_server() as port:  # accepts the connection and never answers
        spec = git_spec(f"git://127.0.0.1:{port}/x.git", tmp_path / "clone", "main", timeout=2)
        runner = await start_runner(spec, tmp_path)
        assert await runner.exit_code(30) == 3, runner.output()
        assert "did not finish within 2 s" in runner.output()


async def test_an_internal_host_is_refused_before_the_clone(repo: Repo, tmp_path: Path) -> None:
    """Loopback here: without the admin's word (internal_hosts) no clone is tried."""
    runner = await start_runner(
        git_spec(repo.url, tmp_path / "clone", "main", internal_hosts=[]), tmp_path
    )
    assert await runner.exit_code() == 2
    assert "internal address" in runner.output()
    assert not (tmp_path / "clone" / ".git").exists()


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private repository over smart HTTP (401 without the login), holding app/VERSION."""
    from tests.support.gitserver import private_repository

    work = tmp_path_factory.mktemp("private") / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    commit_version(work, "private-v1")
    with private_repository(work, "alice", "t0ken-secret") as url:
        yield url


async def test_a_private_repository_with_the_dashboards_login(
    private: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    login = {"allowed_schemes": ["http"], "username": "alice", "password": "t0ken-secret"}
    runner = await start_runner(git_spec(private, tmp_path / "clone", "", **login), tmp_path)
    try:
        await runner.wait_ready()
        async with session.get(runner.url + "VERSION", headers=runner.headers) as r:
            assert r.status == 200 and await r.text() == "private-v1"
        assert "t0ken-secret" not in runner.output()
        config = (tmp_path / "clone" / ".git" / "config").read_text()
        assert "t0ken" not in config and "alice" not in config  # nothing kept in the checkout
    finally:
        assert await runner.stop() == 0


@pytest.mark.parametrize("password", ["", "wrong"])
async def test_a_private_repository_without_its_login(
    private: str, tmp_path: Path, password: str
) -> None:
    login = {"allowed_schemes": ["http"], "username": "alice", "password": password}
    runner = await start_runner(git_spec(private, tmp_path / "clone", "", **login), tmp_path)
    assert await runner.exit_code(60) == 3, runner.output()
    told = runner.output()  # the server's 401 (with no login git cannot ask for one)
    assert "Authentication failed" in told or "could not read Username" in told, told


async def test_fetch_alone_then_a_runner_without_the_login(
    private: str, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """``--fetch`` clones and exits (a pod's init container); the runner given the same
    source marked ``fetched``, and no login, serves that clone."""
    import asyncio
    import json
    import sys

    login = {"allowed_schemes": ["http"], "username": "alice", "password": "t0ken-secret"}
    spec = git_spec(private, tmp_path / "clone", "", **login)
    (tmp_path / "fetch.json").write_text(json.dumps(spec))
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runners", "--fetch", "--spec", str(tmp_path / "fetch.json"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 0 and b"checked out" in err, err
    assert b"listening" not in out  # no guard, no framework
    fetched = git_spec(private, tmp_path / "clone", "", allowed_schemes=["http"], fetched=True)
    runner = await start_runner(fetched, tmp_path)
    try:
        await runner.wait_ready()
        async with session.get(runner.url + "VERSION", headers=runner.headers) as r:
            assert r.status == 200 and await r.text() == "private-v1"
        assert "checked out" not in runner.output()  # no second clone
    finally:
        assert await runner.stop() == 0


async def test_a_fetched_source_whose_clone_is_missing(tmp_path: Path) -> None:
    spec = git_spec("http://127.0.0.1/x.git", tmp_path / "clone", "", fetched=True)
    runner = await start_runner(spec, tmp_path)
    assert await runner.exit_code(30) == 3, runner.output()
    assert "the clone in" in runner.output() and "is missing" in runner.output()
