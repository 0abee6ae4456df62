"""A dashboard's requirements.txt, installed by the runner on top of its environment from
a local folder of wheels (never the network): the app imports what it adds, a layer is
made once and reused, a broken line is named, a rebuild installs afresh, two dashboards
starting at once make one layer, and a layer cut short is never used."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.domain.dashboards import Dashboard, Source
from gateway.domain.runtime import Runtime
from gateway.launchers.base import Observed
from gateway.launchers.environments import Environment, RequirementsPolicy
from gateway.launchers.local import LocalLauncher
from runners.contract import CREDENTIAL_HEADER
from runners.layers import CURRENT, MARKER
from runners.reqlines import requirement_lines
from runners.usage import pause
from tests.support.wheels import (
    BUILDS,
    CHURNING,
    LINGERING,
    STRETCHING,
    WAKING,
    sdist,
    venv,
    wheel,
)

APP = """
import http.server, os, sys
import podium_probe
try:
    import podium_extra
    extra = podium_extra.__version__
except ImportError:
    extra = "none"
try:  # its layer (sys.prefix), shared with the owner's other dashboards: not the app's
    with open(os.path.join(sys.prefix, "planted.py"), "w") as f:
        f.write("# planted")
    layer = "writable"
except OSError:
    layer = "read-only"
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"probe {podium_probe.__version__} extra {extra}".encode()
        if self.path.endswith("?layer"):
            body = f"{sys.prefix} {layer}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
"""
COMMAND = ("{python}", "probe_app.py", "{port}")
CREDENTIAL = "c" * 32


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    for name, version in (("podium_extra", "1.0"), ("podium_extra", "2.0"),
                          ("podium_probe", "2.0")):  # fmt: skip
        wheel(folder, name, version)
    return folder


def launcher(tmp_path: Path, pip_args: list[str], network: str = "private") -> LocalLauncher:
    """alice's app in one folder per dashboard, in an environment with podium_probe 1.0."""
    base = venv(tmp_path / "envs" / "base", wheel(tmp_path / "base-wheels", "podium_probe", "1.0"))
    local = LocalLauncher(
        "/dashboards/", ["https"], [], user_root=f"{tmp_path}/home/{{username}}",
        state_dir=str(tmp_path / "runners"), warm_runners=0, network=network,
    )  # fmt: skip
    local.environments = {"base": Environment("base", "", str(base))}
    local.requirements = RequirementsPolicy(tuple(pip_args), timeout=120)
    return local


def dashboard(
    tmp_path: Path, name: str, requirements: str | None, owner: str = "alice"
) -> Dashboard:
    folder = tmp_path / "home" / owner / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe_app.py").write_text(APP)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    return Dashboard(owner=owner, name=name, framework="custom", command=COMMAND,
                     source=Source(path=name))  # fmt: skip


async def until_done(local: LocalLauncher, d: Dashboard, runtime: Runtime, query: str = "") -> str:
    """The app's page once ready; AssertionError with the log if it fails."""
    deadline = time.monotonic() + 120
    while not (observed := await local.inspect(d, runtime)).ready:
        assert observed.running, (observed, await local.logs(d, runtime, 60))
        assert time.monotonic() < deadline, await local.logs(d, runtime, 60)
        await asyncio.sleep(0.2)
    url = f"http://{runtime.host}:{runtime.port}{d.url('/dashboards/')}{query}"
    async with (
        aiohttp.ClientSession() as s,
        s.get(url, headers={CREDENTIAL_HEADER: CREDENTIAL}) as r,
    ):
        return await r.text()


async def page(local: LocalLauncher, d: Dashboard, query: str = "") -> tuple[str, list[str]]:
    """The app's page, and what this launch (not the ones before) wrote to its log."""
    runtime = await local.start(d, f"{d.name}-{time.monotonic_ns()}", CREDENTIAL)
    try:
        said = await until_done(local, d, runtime, query)
        log = await local.logs(d, runtime, 400)
        starts = [i for i, line in enumerate(log) if line.startswith("--- launch ")]
        return said, log[starts[-1] :]
    finally:
        await local.stop(d, runtime)


async def ended(local: LocalLauncher, d: Dashboard, runtime: Runtime) -> Observed:
    """How a start that fails ends (AssertionError with the log if it never does)."""
    deadline = time.monotonic() + 120
    while (observed := await local.inspect(d, runtime)).running:
        assert time.monotonic() < deadline, await local.logs(d, runtime, 60)
        await asyncio.sleep(0.2)
    return observed


async def failure(local: LocalLauncher, d: Dashboard, launch_id: str) -> Observed:
    """How ``d``'s start fails; the launcher closed after."""
    runtime = await local.start(d, launch_id, CREDENTIAL)
    try:
        return await ended(local, d, runtime)
    finally:
        await local.stop(d, runtime)
        await local.close()


def builds(tmp_path: Path) -> list[Path]:
    """Every build of every layer of alice's."""
    root = tmp_path / "runners" / "alice" / ".layers"
    return sorted(p for p in root.glob("*/*") if p.is_dir() and not p.is_symlink())


async def hostile(tmp_path: Path, wheels: Path, name: str, backend: str, mb: int) -> Observed:
    """How alice's dashboard ``name`` requiring ``podium_<name>`` (its build code
    ``backend``) fails to start with a limit of ``mb`` MB; no build of it left."""
    sdist(wheels, f"podium_{name}", "1.0", backend)
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    local.requirements = replace(local.requirements, max_bytes=mb << 20, max_total=2 * mb << 20)
    observed = await failure(local, dashboard(tmp_path, name, f"podium_{name}==1.0\n"), name)
    assert builds(tmp_path) == []
    return observed


@pytest.mark.unit
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("-e .\n", "line 1 ('-e .'): pip options are the admin's"),
        ("pandas\n--index-url https://evil.example/simple\n", "line 2"),
        ("./mypkg\n", "not a requirement"),
        ("/srv/wheels/x.whl\n", "not a requirement"),
        ("https://example.org/x.whl\n", "not a requirement"),
        ("x @ file:///srv/x.whl\n", "not from a URL"),
        # Past the admin's index (the attacker review): a direct URL, a VCS URL.
        ("six @ https://files.example.org/six-1.16.0-py2.py3-none-any.whl\n", "not from a URL"),
        ("six @ git+https://github.com/benjaminp/six\n", "not from a URL"),
        ("pandas==2.0 --no-deps\n", "only --hash=algorithm:digest options"),
        # pip reads quoted words after the first option as options too; it fills in ${…}.
        ('six==1.16 --hash=sha256:aa "--config-settings=--build-option=--x"\n', "only --hash="),
        ("six @ https://host/${HOME}\n", "${…} is not part of a requirement"),
        ("x.zip\n", "archives"),
        ("build.tar.gz\n", "archives"),
        ("foo.tbz\n", "archives"),
        ("foo.txz\n", "archives"),
        ("foo.tlz\n", "archives"),
        ("foo.tar.lz\n", "archives"),
        # A slash, or an archive's ending after the version (the second re-test): pip took
        # these as paths and built the owner's own sdist and folder.
        ("localpkg>=1/../../../tmp/home/carol/pkgs/localpkg-1.0.tar.gz\n", "local paths"),
        ("localpkg>=1/../../../tmp/home/carol/pkgs/dirproj\n", "local paths"),
        ("localpkg>=1.tar.gz\n", "local paths"),
        ("pkg>=1.tar.gz --hash=sha256:00\n", "local paths"),
        ("pkg>=1.tar.gz[x]\n", "local paths"),
        ("pkg>=1.tar.gz [x]\n", "local paths"),
        ("pkg==1 ; sys_platform == 'a\\\\b'\n", "local paths"),
        # A file: reference without "//" (the re-test): any direct reference is refused.
        ("urlpkg[x] @ file:/srv/urlpkg-1.0-py3-none-any.whl\n", "not from a URL"),
        ("foo[]@file:/x\n", "not from a URL"),
        ("foo (>=1) @ file:/x\n", "not from a URL"),
        ("foo[x] @ git+file:/srv/repo\n", "not from a URL"),
    ],
)
def test_only_requirements_are_taken(text: str, words: str) -> None:
    with pytest.raises(Exception, match=re.escape(words)):
        requirement_lines(text)


@pytest.mark.unit
def test_requirements_read_as_pip_reads_them() -> None:
    text = (
        "# the app's\n\nnumpy>=1.26  # arrays\npandas[excel]==2.0; python_version > '3.8'\n"
        "scikit-learn==1.5 \\\n    --hash=sha256:abc\n"
    )
    assert requirement_lines(text) == [
        "numpy>=1.26", "pandas[excel]==2.0; python_version > '3.8'",
        "scikit-learn==1.5      --hash=sha256:abc",
    ]  # fmt: skip


@pytest.mark.functional
async def test_requirements_go_on_top_of_the_environment_once(tmp_path: Path, wheels: Path) -> None:
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    try:
        plain = dashboard(tmp_path, "plain", None)
        assert (await page(local, plain))[0] == "probe 1.0 extra none"

        first = dashboard(tmp_path, "first", "podium_extra==1.0\n")
        said, log = await page(local, first)
        assert said == "probe 1.0 extra 1.0", log  # the base's package, and the layer's
        assert any("installing 1 requirement(s)" in line for line in log), log
        (made,) = builds(tmp_path)
        marker = json.loads((made / MARKER).read_text())
        assert await local.layer(first) == {"key": marker["key"], "built": marker["built"],
                                            "reused": False}  # fmt: skip

        assert (await page(local, first, "?layer"))[0] == f"{made} read-only"
        # A second dashboard with the same file, and a restart: the same layer, no pip.
        second = dashboard(tmp_path, "second", "podium_extra==1.0\n")
        for d in (second, first):
            said, log = await page(local, d)
            assert said == "probe 1.0 extra 1.0"
            assert any("reusing layer" in line for line in log), log
            assert not any("installing" in line for line in log), log
        assert builds(tmp_path) == [made]
        assert json.loads((made / MARKER).read_text())["built"] == marker["built"]
        assert (await local.layer(second) or {}).get("reused") is True

        # Edited: a new layer; the base's own version of a package can be replaced.
        dashboard(tmp_path, "first", "podium_extra==2.0\npodium_probe==2.0\n")
        assert (await page(local, first))[0] == "probe 2.0 extra 2.0"
        assert len(builds(tmp_path)) == 2

        # A rebuild installs afresh (a new build of the same layer, pointed at once made).
        await local.discard(first)
        said, log = await page(local, first)
        assert said == "probe 2.0 extra 2.0" and any("installing" in line for line in log)
        assert len(builds(tmp_path)) == 3
        current = {p.resolve() for p in (tmp_path / "runners/alice/.layers").glob(f"*/{CURRENT}")}
        assert len(current) == 2 and builds(tmp_path)[-1] in current  # the old one kept
    finally:
        await local.close()


@pytest.mark.functional
async def test_a_broken_requirement_is_named_with_pips_words(tmp_path: Path, wheels: Path) -> None:
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    d = dashboard(tmp_path, "broken", "# ours\npodium_extra==1.0\nno-such-package==9.1\n")
    runtime = await local.start(d, "l1", CREDENTIAL)
    try:
        observed = await ended(local, d, runtime)
        assert observed.permanent, observed  # the same file fails the same way
        assert observed.message.startswith(
            "requirements.txt line 3 ('no-such-package==9.1') could not be installed: "
            "No matching distribution found for no-such-package==9.1"
        ), observed
        log = "\n".join(await local.logs(d, runtime, 200))
        assert "ERROR: No matching distribution found for no-such-package==9.1" in log
        assert builds(tmp_path) == []  # nothing half-made left
        # Not a requirement at all: refused before pip runs.
        dashboard(tmp_path, "broken", "-e .\n")
        runtime = await local.start(d, "l2", CREDENTIAL)
        observed = await ended(local, d, runtime)
        assert "line 1 ('-e .'): pip options are the admin's" in observed.message
    finally:
        await local.stop(d, runtime)
        await local.close()


@pytest.mark.functional
async def test_a_package_whose_build_fails_is_named(tmp_path: Path, wheels: Path) -> None:
    """The re-test: a source distribution whose build raised was told to its owner as
    "hint: See above for details." (pip's last line). The line and what failed, now."""
    failing = BUILDS + "\ndef build_wheel(d, c=None, m=None):\n    raise RuntimeError('no')\n"
    sdist(wheels, "Podium.Failing", "1.0", failing)
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    d = dashboard(tmp_path, "failing", "podium_extra==1.0\npodium-failing == 1.0\n")
    observed = await failure(local, d, "f1")
    assert observed.message == (
        "requirements.txt line 2 ('podium-failing == 1.0') could not be installed: "
        "Encountered error while generating package metadata. (its output is in the log)"
    ), observed


@pytest.mark.functional
async def test_two_dashboards_starting_at_once_make_one_layer(tmp_path: Path, wheels: Path) -> None:
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    pair = [dashboard(tmp_path, name, "podium_extra==2.0\n") for name in ("left", "right")]
    try:
        runtimes = await asyncio.gather(*(local.start(d, d.name, CREDENTIAL) for d in pair))
        pages = await asyncio.gather(
            *(until_done(local, d, r) for d, r in zip(pair, runtimes, strict=True))
        )
        assert pages == ["probe 1.0 extra 2.0"] * 2
        logs = ["\n".join(await local.logs(d, r, 200)) for d, r in zip(pair, runtimes, strict=True)]
        assert sum("installing 1 requirement(s)" in log for log in logs) == 1, logs
        assert sum("reusing layer" in log for log in logs) == 1, logs
        assert len(builds(tmp_path)) == 1
        for d, r in zip(pair, runtimes, strict=True):
            await local.stop(d, r)
    finally:
        await local.close()


def outside(ports: tuple[int, int]) -> int:
    """A free loopback port outside the frameworks' (which a sandbox cannot connect to)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not ports[0] <= port <= ports[1]:
            return port


@asynccontextmanager
async def slow_index(wheels: Path, port: int) -> AsyncIterator[list[float]]:
    """A package index (PEP 503) of ``wheels`` whose downloads wait for as long as the
    list it yields says (its first item, in seconds)."""
    delay = [30.0]

    async def listing(request: web.Request) -> web.Response:
        name = request.match_info["name"].replace("-", "_")
        links = "".join(f'<a href="/files/{w.name}">{w.name}</a>'
                        for w in wheels.glob(f"{name}-*.whl"))  # fmt: skip
        return web.Response(text=f"<html><body>{links}</body></html>", content_type="text/html")

    async def file(request: web.Request) -> web.FileResponse:
        await asyncio.sleep(delay[0])
        return web.FileResponse(wheels / request.match_info["file"])

    app = web.Application()
    app.router.add_get("/simple/{name}/", listing)
    app.router.add_get("/files/{file}", file)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield delay
    finally:
        await runner.cleanup()


@pytest.mark.functional
async def test_a_layer_cut_short_is_never_used(tmp_path: Path, wheels: Path) -> None:
    port = outside((40000, 40999))
    # An index on this machine's loopback: reached on the host's network only (below).
    local = launcher(tmp_path, ["--index-url", f"http://127.0.0.1:{port}/simple/"], "host")
    d = dashboard(tmp_path, "cut", "podium_extra==1.0\n")
    async with slow_index(wheels, port) as delay:
        runtime = await local.start(d, "l1", CREDENTIAL)
        try:
            deadline = time.monotonic() + 60
            while not list((tmp_path / "runners/alice/.layers").glob("*/*/bin")):
                assert time.monotonic() < deadline, await local.logs(d, runtime, 60)
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # pip is downloading (slowly)
            os.killpg(int(runtime.details["pid"]), signal.SIGKILL)  # the machine went down
            (half,) = builds(tmp_path)
            assert not (half / MARKER).exists()
            delay[0] = 0
            said, log = await page(local, d)
            assert said == "probe 1.0 extra 1.0"
            assert any("installing" in line for line in log), log  # not the half-made one
            made = [b for b in builds(tmp_path) if b != half]
            assert len(made) == 1 and (made[0] / MARKER).exists()
            assert (half.parent / CURRENT).resolve() == made[0]
        finally:
            await local.stop(d, runtime)
            await local.close()


HOOK = """
import os, sys
try:  # wherever its interpreter starts: as the runner would be, it writes outside
    with open({proof!r}, "a") as f:
        f.write(f"{{os.getuid()}} {{sys.argv}}\\n")
except OSError:
    pass
"""


@pytest.mark.functional
async def test_an_installed_package_runs_only_where_the_app_does(
    tmp_path: Path, wheels: Path
) -> None:
    """A package's .pth file runs whenever its layer's interpreter starts: the runner's
    question (is the framework there?) must ask it in the app's sandbox and network, or the
    owner's code runs as the runner (the attacker review: as root, on every start)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    proof = outside / "proof"
    hook = {"podium_hook.pth": "import podium_hook_run\n",
            "podium_hook_run.py": HOOK.format(proof=str(proof))}  # fmt: skip
    wheel(wheels, "podium_hook", "1.0", extra=hook)
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    # Streamlit, which the environment lacks: the runner asks its interpreter, and says so.
    d = replace(dashboard(tmp_path, "hooked", "podium_hook==1.0\n"), framework="streamlit",
                entry="probe_app.py", command=())  # fmt: skip
    try:
        for attempt in range(2):  # the layer made, then reused: asked twice
            runtime = await local.start(d, f"hooked-{attempt}", CREDENTIAL)
            observed = await ended(local, d, runtime)
            assert "streamlit is not installed in environment base" in observed.message, (
                observed, await local.logs(d, runtime, 60))  # fmt: skip
        assert not proof.exists(), proof.read_text()
        proof.write_text("")  # the control: a process outside the sandbox can write it
    finally:
        await local.close()


@pytest.mark.unit
def test_the_runner_never_writes_through_a_link_in_a_build(tmp_path: Path) -> None:
    """pip (and a setup.py) may write the build: a link it leaves where the runner writes
    its marker or its lock would make the runner (root) write elsewhere."""
    from runners.errors import RequirementsFailed
    from runners.layers import IN_USE, hold, mark

    victim = tmp_path / "victim.txt"
    victim.write_text("important")
    build = tmp_path / "build"
    build.mkdir()
    (build / MARKER).symlink_to(victim)
    with pytest.raises(RequirementsFailed, match=r"made \.podium-layer\.json itself"):
        mark(build, {"key": "k"})
    (build / MARKER).unlink()
    (build / IN_USE).symlink_to(tmp_path / "created-by-runner")
    with pytest.raises(RequirementsFailed, match=r"made \.in-use itself"):
        mark(build, {"key": "k"})
    with pytest.raises(OSError):
        hold(str(build))
    assert victim.read_text() == "important" and not (tmp_path / "created-by-runner").exists()
    (build / IN_USE).unlink()
    mark(build, {"key": "k"})  # the control: a build without links is marked
    assert json.loads((build / MARKER).read_text()) == {"key": "k"}


@pytest.mark.unit
async def test_an_install_growing_past_the_limit_is_stopped_while_it_runs(tmp_path: Path) -> None:
    from runners.errors import RequirementsFailed
    from runners.layers import Builder
    from runners.spec import Requirements

    builder = Builder(Requirements(str(tmp_path), max_bytes=1 << 20), sys.executable, None,
                      {}, print, print)  # fmt: skip
    build = tmp_path / "build"
    build.mkdir()
    measuring = asyncio.ensure_future(builder._measure(build, set()))
    await asyncio.sleep(1.5)
    assert not measuring.done()  # small: it goes on
    with (build / "big.bin").open("wb") as f:
        f.write(b"x" * (2 << 20))
    with pytest.raises(RequirementsFailed, match="more than this hub's limit of 1 MB"):
        await asyncio.wait_for(measuring, 5)


@pytest.mark.unit
def test_the_shims_are_the_runners_own_never_in_the_apps_home(tmp_path: Path) -> None:
    from runners import environment

    where = environment.shim_folder()
    assert not where.startswith(str(tmp_path)) and os.stat(where).st_uid == os.getuid()
    assert os.listdir(where) == ["runners"]
    assert os.path.realpath(os.path.join(where, "runners")) == str(environment.PACKAGE)
    env = environment.with_shims({"HOME": str(tmp_path), "PYTHONPATH": "/x"}, where)
    assert env["PYTHONPATH"] == f"{where}:/x" and not (tmp_path / ".podium-path").exists()


@pytest.mark.unit
async def test_an_environment_says_what_it_lacks_in_plain_words() -> None:
    """The runner asks an environment's interpreter which modules it lacks; where that is
    asked in the app's sandbox the answer is in the owner's log, which read "the
    environment lacks:" and nothing when nothing was missing (seen in the demo)."""
    from runners import environment

    assert await environment.missing(sys.executable, ["json", "podium_nowhere"], {}) == [
        "podium_nowhere"
    ]
    assert await environment.missing(sys.executable, ["json"], {}) == []
    assert environment._answer(["noise", environment.HAS]) == []  # what a .pth printed: not it
    assert environment._answer(["no answer"]) is None


@pytest.mark.unit
def test_old_builds_go_unless_an_app_still_runs_on_one(tmp_path: Path) -> None:
    """A rebuild leaves the old build; a day later the next build of that layer removes
    it — but not while a runner (a dashboard running for weeks) holds it."""
    from runners.layers import Builder, hold
    from runners.spec import Requirements

    key = tmp_path / "key"
    for name in ("now", "gone", "held", "recent"):  # each finished (builds cut short: at once)
        (key / name).mkdir(parents=True)
        (key / name / MARKER).write_text("{}")
    (key / CURRENT).symlink_to("now")
    hold(str(key / "held"))  # (its lock file made first: that touches the folder)
    long_ago = time.time() - 3 * 86400
    for name in ("gone", "held", "now"):
        os.utime(key / name, (long_ago, long_ago))
    builder = Builder(Requirements(str(tmp_path)), sys.executable, None, {}, print, print)
    builder._sweep(key)
    assert sorted(p.name for p in key.iterdir()) == [CURRENT, "held", "now", "recent"]


@pytest.mark.functional
async def test_pip_in_a_private_network_reaches_no_loopback_service(
    tmp_path: Path, wheels: Path
) -> None:
    """A source distribution's setup.py runs where pip runs: in the dashboard's private
    network (the default), this machine's loopback services (the hub's API, a database)
    are not there — an index served on loopback is not either."""
    port = outside((40000, 40999))
    local = launcher(tmp_path, ["--index-url", f"http://127.0.0.1:{port}/simple/"])
    d = dashboard(tmp_path, "walled", "podium_extra==1.0\n")
    async with slow_index(wheels, port) as delay:
        delay[0] = 0
        runtime = await local.start(d, "l1", CREDENTIAL)
        try:
            observed = await local.changed(d, runtime, 60)
            while observed.running:
                observed = await local.changed(d, runtime, 60)
            assert observed.message.startswith(
                "requirements.txt line 1 ('podium_extra==1.0') could not be installed"
            ), observed
            log = "\n".join(await local.logs(d, runtime, 200))
            assert "Connection refused" in log or "Failed to establish" in log, log
        finally:
            await local.stop(d, runtime)
            await local.close()


@pytest.mark.functional
async def test_nothing_an_install_starts_outlives_it(tmp_path: Path, wheels: Path) -> None:
    """A build's process that leaves pip's group and keeps changing its pid (the re-test
    of session 11) ends with pip: the layer is what it was when marked."""
    sdist(wheels, "podium_linger", "1.0", LINGERING)
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    try:
        d = dashboard(tmp_path, "linger", "podium_linger==1.0\n")
        said, log = await page(local, d)
        assert said == "probe 1.0 extra none", log
        (made,) = builds(tmp_path)
        assert (made / "beat").exists()  # it ran, and wrote while pip did
        beat = (made / "beat").stat().st_mtime_ns
        await asyncio.sleep(4)
        assert (made / "beat").stat().st_mtime_ns == beat
        assert not (made / "late").exists()
    finally:
        await local.close()


@pytest.mark.functional
async def test_files_held_by_a_process_changing_its_pid_are_measured(
    tmp_path: Path, wheels: Path
) -> None:
    """The re-test: a process forking and exiting every 2 ms held 400 MB of removed files
    for 15 s past a 50 MB limit — the size watch listed its pid, then found it gone. The
    install's processes are stopped while the watch looks (its reaper stops them)."""
    observed = await hostile(tmp_path, wheels, "churn", CHURNING, 50)
    assert observed.message == (
        "requirements.txt was installing more than this hub's limit of 50 MB"
    ), observed


@pytest.mark.functional
async def test_a_process_continued_while_the_watch_looks_voids_the_look(
    tmp_path: Path, wheels: Path
) -> None:
    """The tenth re-test: build code continued by its own timer mid-look moved 700 MB
    behind the walk of the build and back, unseen for 38 s. A look during which any thread
    of the install ran does not count: the install is looked at again, and fails."""
    observed = await hostile(tmp_path, wheels, "waking", WAKING, 200)
    assert observed.message in (
        "requirements.txt was installing more than this hub's limit of 200 MB",
        "the processes of requirements.txt's install ran while measured: cut short",
    ), observed


@pytest.mark.functional
async def test_a_slow_look_does_not_stretch_the_time_to_the_next(
    tmp_path: Path, wheels: Path
) -> None:
    """The eleventh re-test: build code made each look take seconds (threads with
    thousands of descriptors) and wrote, then removed, 800 MB past a 100 MB limit in the
    four times as long the runner waited before the next. Two seconds at most between
    looks: 320 MB held for 4 s is seen."""
    observed = await hostile(tmp_path, wheels, "stretching", STRETCHING, 100)
    assert observed.message == (
        "requirements.txt was installing more than this hub's limit of 100 MB"
    ), observed


@pytest.mark.unit
def test_looks_are_two_seconds_apart_at_most() -> None:
    took = (0.0, 0.25, 0.4, 1.0, 60.0)  # a large build's look, or one build code made slow
    assert [pause(t) for t in took] == pytest.approx([1.0, 1.0, 1.6, 2.0, 2.0])


STOPPING = r"""
import os, signal, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    for _ in range(3000):  # pip, which waits for this build; again once continued
        os.kill(os.getppid(), signal.SIGSTOP)
        time.sleep(0.1)
"""


@pytest.mark.functional
async def test_build_code_that_stops_pip_ends_the_install(tmp_path: Path, wheels: Path) -> None:
    """The re-test: build code stopped pip, and its owner's start waited for the timeout
    (here 120 s). The size watch continues what it stopped to look (runners.pidns); a
    process of the install stopped again by the next look ends it, saying so."""
    sdist(wheels, "podium_stopper", "1.0", STOPPING)
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    d = dashboard(tmp_path, "stopper", "podium_stopper==1.0\n")
    observed = await failure(local, d, "s1")
    assert observed.message == (
        "a process of the install of requirements.txt was stopped (SIGSTOP): cut short"
    ), observed
    assert builds(tmp_path) == []


@pytest.mark.functional
async def test_an_email_username_gets_layers_of_its_own(tmp_path: Path, wheels: Path) -> None:
    """jane.doe@example.org, as JupyterHub allows it: her layers in her own folder."""
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    try:
        d = dashboard(tmp_path, "mail", "podium_extra==2.0\n", owner="jane.doe@example.org")
        said, log = await page(local, d)
        assert said == "probe 1.0 extra 2.0", log
        layers = tmp_path / "runners" / "jane.doe@example.org" / ".layers"
        made = [p for p in layers.glob("*/*") if not p.is_symlink() and (p / MARKER).exists()]
        assert len(made) == 1
        assert (await local.layer(d) or {}).get("reused") is False
    finally:
        await local.close()


@pytest.mark.unit
def test_viewers_follow_a_start_without_its_details() -> None:
    """The progress stream tells viewers the step, not pip's output or a failure's reason
    (the attacker review: bob read the line pip refused)."""
    from gateway.web.pages import viewers_word

    failed = "requirements.txt line 2 ('zzz-secret==9') could not be installed: No matching"
    assert viewers_word("failed", failed) == "it could not start; its owner can see why"
    assert viewers_word("starting", "installing requirements.txt: Collecting x") == (
        "installing requirements.txt"
    )
    assert viewers_word("starting", "starting streamlit") == "starting streamlit"


@pytest.mark.unit
def test_the_progress_page_tells_viewers_the_step_only() -> None:
    """The re-test: bob opening alice's failed dashboard read the line pip refused."""
    from gateway.domain.access import User
    from gateway.web.pages import progress_page
    from gateway.web.render import Site

    why = "requirements.txt line 1 ('nosuchpkg-zz9==7.7') could not be installed: No match"
    d = replace(Dashboard("alice", "p6", "streamlit", entry="app.py"), status="failed",
                message=why)  # fmt: skip
    site = Site("/dashboards/", "/hub/")
    bob, alice = User("bob"), User("alice")
    seen = progress_page(site, d, bob).text or ""
    assert "nosuchpkg" not in seen and "its owner can see why" in seen
    assert "nosuchpkg" in (progress_page(site, d, alice).text or "")  # the owner's: all of it


@pytest.mark.unit
def test_requirements_are_read_through_no_link_swapped_in(tmp_path: Path) -> None:
    """The attacker review: the owner swapped requirements.txt for a link to the hub's key
    between the runner's check and its read (as root), and pip's error quoted the key.
    Read through no link of any part of the path, no hard link, no FIFO."""
    from runners.errors import RequirementsFailed
    from runners.source import read_unlinked

    secret = tmp_path / "secret"
    secret.write_text("the hub's key\n")
    folder = tmp_path / "home" / "carol" / "app"
    folder.mkdir(parents=True)
    checked = folder / "requirements.txt"
    checked.write_text("podium_extra\n")
    assert read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed) == "podium_extra\n"
    checked.unlink()
    checked.symlink_to(secret)  # after the check: what the runner reads now
    with pytest.raises(RequirementsFailed, match="a link where a file was"):
        read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed)
    checked.unlink()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "requirements.txt").symlink_to(secret)
    folder.rename(tmp_path / "home" / "carol" / "moved")
    folder.symlink_to(tmp_path / "elsewhere")  # a folder of the path swapped
    with pytest.raises(RequirementsFailed, match="a link where a file was"):
        read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed)
    folder.unlink()
    folder.mkdir()
    os.link(secret, checked)
    with pytest.raises(RequirementsFailed, match="other names"):
        read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed)
    checked.unlink()
    os.mkfifo(checked)
    with pytest.raises(RequirementsFailed, match="not a regular file"):
        read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed)
    checked.unlink()
    checked.write_text("x" * 2048)
    with pytest.raises(RequirementsFailed, match="larger than 1 KB"):
        read_unlinked(checked, 1024, "requirements.txt", RequirementsFailed)


@pytest.mark.unit
def test_the_disk_an_install_takes_is_measured_whole(tmp_path: Path) -> None:
    """The attacker review: files below a path longer than the system's limit were
    skipped, empty files and folders counted nothing, and a file removed while still open
    was never seen."""
    import subprocess

    from runners.usage import ENTRY, size_of, unlinked_size

    build = tmp_path / "build"
    build.mkdir()
    fd = os.open(build, os.O_RDONLY)
    for i in range(20):  # folders 20 deep, a path of over 5,000 characters
        os.mkdir(f"{i:02d}" + "d" * 250, dir_fd=fd)
        inner = os.open(f"{i:02d}" + "d" * 250, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    big = os.open("big", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(big, os.urandom(3 << 20))
    os.close(big)
    os.close(fd)
    for i in range(100):
        (build / f"empty{i}").touch()
    assert size_of(build) >= (3 << 20) + 120 * ENTRY

    code = (
        "import os, sys, tempfile, time\n"
        "f = tempfile.TemporaryFile(dir=sys.argv[1])\n"  # removed at once, kept open
        "f.write(os.urandom(5 << 20)); f.flush(); print('written', flush=True)\n"
        "time.sleep(30)\n"
    )
    ghost = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE)
    # A thread with a descriptor table of its own (the third re-test hid 450 MB so).
    threaded = (
        "import ctypes, os, sys, tempfile, threading, time\n"
        "def hide():\n"
        "    assert ctypes.CDLL(None).unshare(0x400) == 0\n"  # CLONE_FILES
        "    f = tempfile.TemporaryFile(dir=sys.argv[1])\n"
        "    f.write(os.urandom(4 << 20)); f.flush(); print('hidden', flush=True)\n"
        "    time.sleep(30)\n"
        "threading.Thread(target=hide, daemon=True).start(); time.sleep(30)\n"
    )
    hider = subprocess.Popen([sys.executable, "-c", threaded, str(tmp_path)],
                             stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert hider.stdout is not None and hider.stdout.readline() == b"hidden\n"
        assert unlinked_size([hider.pid]) >= 4 << 20
        assert ghost.stdout is not None and ghost.stdout.readline() == b"written\n"
        assert unlinked_size([ghost.pid]) >= 5 << 20
        assert unlinked_size([os.getpid()]) == 0
    finally:
        for process in (ghost, hider):
            process.kill()
            process.communicate()


@pytest.mark.unit
async def test_no_file_of_an_install_passes_the_limit_even_raised(tmp_path: Path) -> None:
    """The attacker review: a build raised its own file size limit (only the soft one was
    set). Both are, in the install's process, the runner's own left as they were."""
    from runners.framework import Framework

    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_FSIZE))"
    child = Framework([sys.executable, "-c", code], {}, tmp_path, 10, file_limit=1 << 20)
    await child.start()
    assert await child.wait() == 0
    assert child.tail() == [f"({1 << 20}, {1 << 20})"]
    assert resource.getrlimit(resource.RLIMIT_FSIZE) == before


@pytest.mark.unit
def test_the_size_watch_bears_files_pip_removes_meanwhile(tmp_path: Path) -> None:
    """pip makes and removes temporary folders all the time: what goes while the build is
    measured is not a failure (a folder that cannot be read is)."""
    import threading

    from runners.usage import size_of

    build = tmp_path / "build"
    build.mkdir()
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            folder = build / f"tmp{i % 50}"
            (folder / "inner").mkdir(parents=True, exist_ok=True)
            (folder / "inner" / "f").write_bytes(b"x")
            shutil.rmtree(folder, ignore_errors=True)
            i += 1

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            size_of(build)
    finally:
        stop.set()
        worker.join()


@pytest.mark.unit
def test_a_tree_made_deep_at_once_fails_the_install_and_is_removed(tmp_path: Path) -> None:
    """The second re-test: chains of folders renamed into each other, 2,400 deep, made
    Python's walk and rmtree raise RecursionError; the build (960 MB) stayed for good."""
    from runners.errors import RequirementsFailed
    from runners.usage import remove, size_of

    build = tmp_path / "build"
    build.mkdir()
    for chain in ("a", "b"):
        fd = os.open(build, os.O_RDONLY)
        os.mkdir(chain, dir_fd=fd)
        for _ in range(1200):
            inner = os.open(chain if _ == 0 else "d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
            os.mkdir("d", dir_fd=fd)
        if chain == "a":
            bottom = fd
        else:
            os.close(fd)
    os.rename("b", "b", src_dir_fd=os.open(build, os.O_RDONLY), dst_dir_fd=bottom)
    os.close(bottom)
    with pytest.raises(RequirementsFailed, match="folders over 200 deep"):
        size_of(build)
    remove(build)
    assert not build.exists()


@pytest.mark.functional
async def test_one_owner_changing_requirements_stays_within_the_total(
    tmp_path: Path,
    wheels: Path,
) -> None:
    """The re-test's steps through the launcher: each change makes a layer; the ones no
    running dashboard uses go before a new one passes the total."""
    local = launcher(tmp_path, ["--no-index", "--find-links", str(wheels)])
    one = dashboard(tmp_path, "one", "podium_extra==1.0\n")
    await page(local, one)
    (first,) = builds(tmp_path)
    from runners.layers import measured

    size = measured(first)[0]
    # Room for two layers at their largest, not three.
    local.requirements = local.requirements.__class__(
        local.requirements.pip_args, 120, max_bytes=size * 2, max_total=size * 7 // 2
    )
    try:
        for version in ("2.0", "1.0 ; python_version > '3.1'", "1.0 ; python_version > '3.2'"):
            dashboard(tmp_path, "one", f"podium_extra=={version}\n")
            said, log = await page(local, one)
            assert said.startswith("probe 1.0 extra"), log
            assert len(builds(tmp_path)) <= 2, builds(tmp_path)
        assert not first.exists()  # the least recently used went first
    finally:
        await local.close()
