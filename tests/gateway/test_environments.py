"""Python environments the admin offers: checked at start, picked per dashboard, and the
app really running in its own (two venvs with two versions of one package)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import Podium
from gateway.domain.dashboards import Dashboard, Source
from gateway.domain.validation import Rules, parse_create, parse_patch, rebuild_needed
from gateway.errors import Invalid, Misconfigured
from gateway.launchers.environments import Environment, EnvironmentProblem, offered
from gateway.launchers.local import LocalLauncher
from runners.contract import CREDENTIAL_HEADER
from tests.support.wheels import venv, wheel

APP = """
import http.server, importlib.util, os, sys
import podium_probe
prefix = sys.argv[2]
# Podium's shims reach the app; nothing else of Podium's environment does.
assert importlib.util.find_spec("runners.shims") is not None
assert importlib.util.find_spec("aiohttp") is None, "Podium's packages leaked in"
assert all(os.listdir(p) == ["runners"] for p in os.environ["PYTHONPATH"].split(os.pathsep))
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"probe {podium_probe.__version__} on {sys.prefix}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
"""
COMMAND = ("{python}", "probe_app.py", "{port}", "{prefix}")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("configured", "words"),
    [
        ([{"name": "Geo", "python": "/opt/geo/bin/python"}], "no name for an environment"),
        ([{"name": "geo", "python": "bin/python"}], "python must be an absolute path"),
        ([{"name": "geo", "python": "/opt/../bin/python"}], "python must be an absolute path"),
        ([{"name": "geo", "python": "/p", "conda": "x"}], "unknown keys conda"),
        ([{"name": "geo", "python": "/a"}, {"name": "geo", "python": "/b"}], "geo named twice"),
        (["geo"], "must be a dict"),
    ],
)
def test_environments_that_cannot_work_stop_the_gateway(configured: Any, words: str) -> None:
    with pytest.raises(EnvironmentProblem, match=words):
        offered(configured)
    if all(isinstance(doc, dict) for doc in configured):  # else traitlets refuses it first
        with pytest.raises(Misconfigured, match=words):
            Podium(environments=configured).rules()


@pytest.mark.unit
def test_conda_envs_are_found_and_named_by_their_folder(tmp_path: Path) -> None:
    for name in ("geo", "ml", "Bad Name", "empty"):
        (tmp_path / name / "bin").mkdir(parents=True)
    for name in ("geo", "ml", "Bad Name"):
        python = tmp_path / name / "bin" / "python"
        python.write_text("#!/bin/sh\n")
        python.chmod(0o755)
    configured = [{"name": "ml", "description": "the admin's", "python": "/opt/ml/bin/python"}]
    found = offered(configured, str(tmp_path))
    assert found == [
        Environment("ml", "the admin's", "/opt/ml/bin/python"),  # the admin's, first
        Environment("geo", "conda environment geo", str(tmp_path / "geo" / "bin" / "python")),
    ]
    assert Podium(environments=configured, conda_envs_root=str(tmp_path)).rules().environments == (
        "ml",
        "geo",
    )


@pytest.mark.unit
def test_on_kubernetes_an_environment_is_an_image() -> None:
    scipy = {"name": "scipy", "image": "quay.io/jupyter/scipy-notebook:2024-05-27"}
    found = Podium(launcher="kubernetes", environments=[scipy]).environment_list()
    assert found == [
        Environment("scipy", "", "python3", "quay.io/jupyter/scipy-notebook:2024-05-27")
    ]
    conda = {**scipy, "python": "/opt/conda/bin/python", "image_pull_policy": "Always"}
    assert Podium(launcher="kubernetes", environments=[conda]).environment_list()[0].python == (
        "/opt/conda/bin/python"
    )
    for wrong, words in (
        ({"name": "geo", "python": "/opt/geo/bin/python"}, "image must name a container image"),
        ({**scipy, "image_pull_policy": "Sometimes"}, "image_pull_policy must be one of"),
        ({**scipy, "python": "python3; rm -rf /"}, "python must be an absolute path"),
    ):
        with pytest.raises(Misconfigured, match=words):
            Podium(launcher="kubernetes", environments=[wrong]).rules()
    with pytest.raises(Misconfigured, match="on Kubernetes an environment is an image"):
        Podium(launcher="kubernetes", conda_envs_root="/opt/conda/envs").rules()


@pytest.mark.unit
def test_an_owners_total_below_one_layer_stops_podium() -> None:
    """The last review: a total below the size of one layer was raised to it in silence."""
    policy = Podium(requirements_max_size=100, requirements_max_total=300).requirements_policy()
    assert policy is not None and (policy.max_bytes, policy.max_total) == (100 * 2**20, 300 * 2**20)
    for size, total in ((2048, 1024), (0, 10), (-5, 10)):
        with pytest.raises(
            Misconfigured, match=r"must be at least c\.Podium\.requirements_max_size"
        ):
            Podium(requirements_max_size=size, requirements_max_total=total).requirements_policy()


@pytest.mark.unit
def test_a_dashboard_picks_one_of_them() -> None:
    rules = Rules(environments=("geo", "ml"))
    body = {"name": "map", "framework": "streamlit", "entry": "app.py", "environment": "geo"}
    d = parse_create(body, "alice", rules)
    assert d.environment == "geo" and d.as_json("/d/")["environment"] == "geo"
    assert parse_create({**body, "environment": ""}, "alice", rules).environment == ""
    for wrong in ("gpu", 3, None):
        with pytest.raises(Invalid, match="environment must be one of: geo, ml") as e:
            parse_create({**body, "environment": wrong}, "alice", rules)
        assert e.value.field == "environment"
    with pytest.raises(Invalid, match="this hub offers one environment"):
        parse_create(body, "alice", Rules())
    assert rebuild_needed(d, parse_patch({"environment": "ml"}, d, rules))


def launcher(tmp_path: Path, environments: dict[str, Environment]) -> LocalLauncher:
    home = tmp_path / "home" / "alice" / "probe"
    home.mkdir(parents=True)
    (home / "probe_app.py").write_text(APP)
    local = LocalLauncher(
        "/dashboards/", ["https"], [], user_root=f"{tmp_path}/home/{{username}}",
        state_dir=str(tmp_path / "runners"), warm_runners=0,
    )  # fmt: skip
    local.environments = environments
    return local


async def answer(local: LocalLauncher, d: Dashboard, credential: str) -> str:
    runtime = await local.start(d, d.name, credential)
    try:
        deadline = time.monotonic() + 60
        while not (observed := await local.inspect(d, runtime)).ready:
            assert observed.running, (observed, await local.logs(d, runtime, 40))
            assert time.monotonic() < deadline, await local.logs(d, runtime, 40)
            await asyncio.sleep(0.2)
        url = f"http://{runtime.host}:{runtime.port}{d.url('/dashboards/')}"
        async with (
            aiohttp.ClientSession() as s,
            s.get(url, headers={CREDENTIAL_HEADER: credential}) as r,
        ):
            return await r.text()
    finally:
        await local.stop(d, runtime)


@pytest.mark.functional
async def test_each_dashboard_runs_in_its_environment(tmp_path: Path) -> None:
    """Two venvs with two versions of one package: each dashboard imports its own; the
    runner itself is in neither."""
    wheels = tmp_path / "wheels"
    pythons = {
        "old": venv(tmp_path / "envs" / "old", wheel(wheels / "1", "podium_probe", "1.0")),
        "new": venv(tmp_path / "envs" / "new", wheel(wheels / "2", "podium_probe", "2.0")),
    }
    local = launcher(tmp_path, {n: Environment(n, "", str(p)) for n, p in pythons.items()})
    try:
        for name, version in (("old", "1.0"), ("new", "2.0")):
            d = Dashboard(owner="alice", name=f"probe-{name}", framework="custom", command=COMMAND,
                          source=Source(path="probe"), environment=name)  # fmt: skip
            said = await answer(local, d, "c" * 32)
            assert said == f"probe {version} on {tmp_path / 'envs' / name}", said
        # No environment named: the first, the default.
        d = Dashboard(owner="alice", name="probe-default", framework="custom", command=COMMAND,
                      source=Source(path="probe"))  # fmt: skip
        assert (await answer(local, d, "c" * 32)).startswith("probe 1.0")
    finally:
        await local.close()


@pytest.mark.functional
async def test_a_framework_missing_from_the_environment_is_named(tmp_path: Path) -> None:
    bare = venv(tmp_path / "envs" / "bare")
    local = launcher(tmp_path, {"bare": Environment("bare", "", str(bare))})
    (tmp_path / "home" / "alice" / "probe" / "app.py").write_text("import streamlit\n")
    d = Dashboard(owner="alice", name="needs-streamlit", framework="streamlit", entry="app.py",
                  source=Source(path="probe"), environment="bare")  # fmt: skip
    runtime = await local.start(d, "l1", "c" * 32)
    try:
        deadline = time.monotonic() + 60
        while (observed := await local.inspect(d, runtime)).running:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        assert observed.permanent, observed  # visits do not retry it: nothing would change
        assert observed.message == (
            "streamlit is not installed in environment bare, which Streamlit needs; "
            "ask your admin, or add it to requirements.txt"
        ), observed
    finally:
        await local.stop(d, runtime)
        await local.close()
    gone = Dashboard(owner="alice", name="gone", framework="custom", command=COMMAND,
                     source=Source(path="probe"), environment="removed")  # fmt: skip
    with pytest.raises(Exception, match="no longer offers the environment 'removed'"):
        await local.start(gone, "l2", "c" * 32)
