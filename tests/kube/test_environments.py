"""Environments on Kubernetes: an image each, the runner copied in by an init container.

Two "images" here are venvs of this machine's bare Python (no psutil, no uvloop, none of
Podium's packages) with two versions of one package; the simulated kubelet runs a
container of either as it runs the runner image's. Each dashboard sees its own version,
the runner runs in the image's interpreter from the copy, and a framework the image
lacks is named before anything starts.
"""

from __future__ import annotations

import ast
import asyncio
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from gateway.domain.dashboards import Dashboard, Source
from gateway.launchers.base import Observed, runner_credential
from gateway.launchers.environments import Environment, RequirementsPolicy
from gateway.launchers.kube.launcher import PodLauncher
from gateway.launchers.kube.manifests import CONTAINER, LAYERS_CONTAINER, make_pod
from runners.contract import CREDENTIAL_HEADER
from tests.kubesim import Cluster, simulated_cluster
from tests.kubesim.kubelet import Image, default_images
from tests.support.wheels import (
    BUILDS,
    CHURNING,
    LINGERING,
    STRETCHING,
    TAMPERING,
    VAULT,
    WAKING,
    sdist,
    venv,
    wheel,
)

pytestmark = [pytest.mark.functional]
PREFIX = "/dashboards/"
APP = """
import http.server, importlib.util, sys
import podium_probe
leaked = [m for m in ("aiohttp", "psutil", "gateway") if importlib.util.find_spec(m)]
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"probe {podium_probe.__version__} on {sys.prefix}; leaked {leaked}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
"""


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, Path]]:
    """Two environment images' roots: where the pod's user can reach them (not under
    pytest's root-only folder)."""
    root = Path(tempfile.mkdtemp(prefix="podium-images-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        wheels = root / "wheels"
        yield {
            name: Path(venv(root / name, wheel(wheels / name, "podium_probe", version))).parents[1]
            for name, version in (("old", "1.0"), ("new", "2.0"))
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube(
    tmp_path_factory: pytest.TempPathFactory, images: dict[str, Path]
) -> AsyncIterator[Cluster]:
    async with simulated_cluster(tmp_path_factory.mktemp("kube")) as c:
        assert c.kubelet is not None
        runner_image = default_images()["podium/runner:test"]
        for name, root in images.items():
            env = {**runner_image.env, "PATH": f"{root}/bin:/usr/bin:/bin"}
            c.kubelet.images[f"envs/{name}:1"] = Image(env, ["python3"], covers=runner_image.covers)
        c.kubelet.bind_claim(c.namespace, "claim-alice")
        app = c.kubelet.claim_dir(c.namespace, "claim-alice") / "probe"
        app.mkdir(parents=True)
        (app / "probe_app.py").write_text(APP)
        (app / "app.py").write_text("import streamlit\n")
        yield c


def launcher(kube: Cluster) -> PodLauncher:
    k = PodLauncher(PREFIX, ["https"], [], [], kubeconfig=str(kube.kubeconfig),
                    namespace=kube.namespace, image="podium/runner:test", ready_timeout=120)  # fmt: skip
    k.environments = {
        name: Environment(name, "", "python", image=f"envs/{name}:1") for name in ("old", "new")
    }
    return k


async def settled(
    k: PodLauncher,
    d: Dashboard,
    launch_id: str,
    keep_log: bool = False,
    seen: list[Any] | None = None,
) -> tuple[Observed, str]:
    """How the start ended, and the app's page (with ``keep_log``, then its log) or the log;
    ``seen`` gets each progress message on the way, then the manage page's layer."""
    credential = runner_credential(b"s" * 32, d, launch_id)
    runtime = await k.start(d, launch_id, credential)
    for _ in range(600):
        observed = await k.inspect(d, runtime)
        if seen is not None:
            seen.append(observed.message)
        if observed.ready or not observed.running:
            break
        await asyncio.sleep(0.2)
    if seen is not None:
        seen.append(await k.layer(d))
    page = ""
    if observed.ready and observed.address:
        host, port = observed.address
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"http://{host}:{port}{d.url(PREFIX)}", headers={CREDENTIAL_HEADER: credential}
            ) as r,
        ):
            page = await r.text()
        if keep_log:
            page += "\n" + "\n".join(await k.logs(d, runtime, 200))
    else:
        page = "\n".join(await k.logs(d, runtime, 80))
    await k.stop(d, runtime)
    return observed, page


async def test_each_dashboard_runs_in_its_environments_image(
    kube: Cluster, images: dict[str, Path]
) -> None:
    k = launcher(kube)
    try:
        for name, version in (("old", "1.0"), ("new", "2.0")):
            d = Dashboard(owner="alice", name=f"probe-{name}", framework="custom",
                          command=("{python}", "probe_app.py", "{port}"),
                          source=Source(path="probe"), environment=name)  # fmt: skip
            observed, page = await settled(k, d, secrets.token_hex(8))
            assert observed.ready, (observed, page)
            # Its own version, in the image's interpreter; the runner, copied in, runs
            # there with the standard library alone, and nothing of Podium's leaks in.
            assert page == f"probe {version} on {images[name]}; leaked []", page
    finally:
        await k.close()


async def test_a_framework_the_image_lacks_is_named(kube: Cluster) -> None:
    k = launcher(kube)
    d = Dashboard(owner="alice", name="needs-streamlit", framework="streamlit", entry="app.py",
                  source=Source(path="probe"), environment="old")  # fmt: skip
    try:
        observed, log = await settled(k, d, secrets.token_hex(8))
        assert not observed.running and observed.permanent, (observed, log)
        assert observed.message == (
            "streamlit is not installed in environment old, which Streamlit needs; "
            "ask your admin, or add it to requirements.txt"
        ), observed
    finally:
        await k.close()


EXTRA_APP = """
import http.server, sys
import podium_extra
class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"extra {podium_extra.__version__}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
"""


async def test_requirements_are_cached_on_the_layers_claim(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The first pod installs requirements.txt into the owner's folder of the layers claim,
    its progress shown; the second (another dashboard, the same file) finds the layer and
    installs nothing; a rebuild installs afresh. The manage page sees which layer each ran."""
    assert kube.kubelet is not None
    kube.kubelet.bind_claim(kube.namespace, "podium-layers")
    index = images["old"].parent / "index"  # where the pod's user may read it
    wheel(index, "podium_extra", "1.0")
    app = kube.kubelet.claim_dir(kube.namespace, "claim-alice") / "layered"
    app.mkdir(exist_ok=True)
    (app / "extra_app.py").write_text(EXTRA_APP)
    (app / "requirements.txt").write_text("podium_extra==1.0\n")
    k = launcher(kube)
    k.environments = {}  # the runner image's Python (an environment's image needs pip)
    k.layers_claim = "podium-layers"
    k.requirements = RequirementsPolicy(("--no-index", "--find-links", str(index)), timeout=120)
    # The last re-test: an app that may write the claim fills what every owner shares.
    # The install's init container alone writes the owner's layers; the app reads them.
    pod = make_pod(k.plan(Dashboard(owner="alice", name="x", framework="custom",
                                    command=("{python}",)), "0" * 16))  # fmt: skip
    mounts = {c["name"]: [m for m in c["volumeMounts"] if m["name"] == "layers"]
              for c in (*pod["spec"]["initContainers"], *pod["spec"]["containers"])}  # fmt: skip
    assert [m.get("readOnly", False) for m in mounts[LAYERS_CONTAINER]] == [False]
    assert [m.get("readOnly", False) for m in mounts[CONTAINER]] == [True]
    assert all(not m for name, m in mounts.items() if name not in (LAYERS_CONTAINER, CONTAINER))
    # The installing runner is its container's pid 1 (the image's entrypoint is tini):
    # nothing the install starts can stop it (runners.pidns).
    (layers,) = [c for c in pod["spec"]["initContainers"] if c["name"] == LAYERS_CONTAINER]
    assert layers["command"] == ["podium-runner"] and "command" not in pod["spec"]["containers"][0]
    said, seen = [], []
    try:
        for name, rebuild in (
            ("layered-one", False),
            ("layered-two", False),
            ("layered-two", True),
        ):
            d = Dashboard(owner="alice", name=name, framework="custom",
                          command=("{python}", "extra_app.py", "{port}"),
                          source=Source(path="layered"))  # fmt: skip
            if rebuild:
                await k.discard(d)  # what the manage page's Rebuild does before the restart
            progress: list[Any] = []
            observed, page = await settled(k, d, secrets.token_hex(8), True, progress)
            assert observed.ready and page.startswith("extra 1.0"), (observed, page)
            said.append(page)
            seen.append(progress)
    finally:
        await k.close()
    assert "installing 1 requirement(s)" in said[0], said[0]
    assert "reusing layer" in said[1] and "installing" not in said[1], said[1]
    assert "installing 1 requirement(s)" in said[2], said[2]  # the rebuild
    assert any(str(m).startswith("installing requirements.txt") for m in seen[0]), seen[0]
    layers = [progress[-1] for progress in seen]
    assert [layer["reused"] for layer in layers] == [False, True, False], layers
    assert layers[0]["key"] == layers[1]["key"] == layers[2]["key"], layers
    assert layers[0]["built"] == layers[1]["built"] != layers[2]["built"], layers
    owners = kube.kubelet.claim_dir(kube.namespace, "podium-layers")
    assert "alice" in {p.name for p in owners.iterdir()} <= {"alice", "jane.doe@example.org"}


async def test_an_email_username_gets_a_layers_folder_of_its_own(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """jane.doe@example.org's pod finds her claim under kubespawner's name and installs her
    requirements.txt into her own folder of the layers claim, beside alice's."""
    assert kube.kubelet is not None
    kube.kubelet.bind_claim(kube.namespace, "podium-layers")
    k = launcher(kube)
    jane = "jane.doe@example.org"
    claim = k.named(k.user_claim, jane)
    assert claim == "claim-jane-doe-example-org---7f73355b"
    kube.kubelet.bind_claim(kube.namespace, claim)
    app = kube.kubelet.claim_dir(kube.namespace, claim) / "layered"
    app.mkdir(parents=True, exist_ok=True)
    (app / "extra_app.py").write_text(EXTRA_APP)
    (app / "requirements.txt").write_text("podium_extra==1.0\n")
    index = images["old"].parent / "index"
    wheel(index, "podium_extra", "1.0")
    k.environments = {}
    k.layers_claim = "podium-layers"
    k.requirements = RequirementsPolicy(("--no-index", "--find-links", str(index)), timeout=120)
    d = Dashboard(owner=jane, name="sales", framework="custom",
                  command=("{python}", "extra_app.py", "{port}"), source=Source(path="layered"))  # fmt: skip
    try:
        observed, page = await settled(k, d, secrets.token_hex(8), keep_log=True)
    finally:
        await k.close()
    assert observed.ready and page.startswith("extra 1.0"), (observed, page)
    assert "installing 1 requirement(s)" in page, page
    layers = kube.kubelet.claim_dir(kube.namespace, "podium-layers")
    assert jane in {p.name for p in layers.iterdir()} <= {"alice", jane}  # a folder per owner
    assert any((layers / jane).iterdir())


ESCAPING = (
    BUILDS
    + r"""
import os, socket, sys

def _try(path):
    try:
        with open(path, "w") as f:
            f.write("x" * 1024)
        return "written"
    except OSError as e:
        return type(e).__name__

def _unix():
    try:
        socket.socket(socket.AF_UNIX).close()
        return "made"
    except OSError as e:
        return type(e).__name__

def _runs(path):  # a configure script's test program: compiled, made executable, run
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(path, 0o755)
    return "ran" if os.access(path, os.X_OK) and os.system(path) == 0 else "not executable"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = os.path.realpath(sys.prefix)  # pip runs the build in the layer's interpreter
    said = {"owner's folder": _try(os.path.join(os.path.dirname(os.path.dirname(build)), "stray")),
            "beside": _try(os.path.join(os.path.dirname(build), "stray")),
            "build": _try(os.path.join(build, "mine")), "unix socket": _unix(),
            "program": _runs(os.path.join(build, "conftest"))}
    return built(wheel_directory, "podium_escape", "1.0", f"said = {said!r}\n")
"""
)
ESCAPE_APP = EXTRA_APP.replace("podium_extra.__version__", "podium_escape.said").replace(
    "import podium_extra", "import podium_escape"
)


async def test_an_install_in_a_pod_writes_its_build_only(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The re-test: the init container ran pip unsandboxed, so build code wrote anywhere in
    its owner's folder of the layers claim while it ran (and made Unix sockets, which the
    local install's seccomp filter refuses). Where the node's kernel has Landlock, the
    install writes its build only, as locally; the owner's log says it was sandboxed. A
    program it makes may be run (the seventh re-test: chmod was void, as locally)."""
    index = images["old"].parent / "index-escape"
    sdist(index, "podium_escape", "1.0", ESCAPING)
    k = layered_kube(kube, index, "escaping", "podium_escape==1.0\n", ESCAPE_APP)
    d = alices("escaping", "escaping")
    try:
        observed, page = await settled(k, d, secrets.token_hex(8), keep_log=True)
    finally:
        await k.close()
    assert observed.ready, page
    said = ast.literal_eval(page.splitlines()[0].removeprefix("extra "))
    denied = "PermissionError"
    assert said == {"owner's folder": denied, "beside": denied, "build": "written",
                    "unix socket": denied, "program": "ran"}, page  # fmt: skip
    assert "requirements.txt: installing in a sandbox (Landlock ABI" in page, page
    owner = kube.kubelet.claim_dir(kube.namespace, "podium-layers") / "alice"
    assert not list(owner.glob("**/stray"))


async def test_a_broken_requirement_in_a_pod_names_its_line(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The init container's pip refuses a line: the start fails for good with the line and
    pip's words (the owner's), pip's ERROR in the owner's log, no layer left."""
    index = images["old"].parent / "index"
    wheel(index, "podium_extra", "1.0")
    before = made_by(kube, "alice")
    k = layered_kube(kube, index, "broken", "podium_extra==1.0\nno-such-package==9.1\n")
    d = alices("broken", "broken")
    try:
        observed, log = await settled(k, d, secrets.token_hex(8))
    finally:
        await k.close()
    assert not observed.ready and observed.permanent, observed
    assert observed.message.startswith(
        "requirements.txt line 2 ('no-such-package==9.1') could not be installed: "
        "No matching distribution found for no-such-package==9.1"
    ), observed
    assert "ERROR: No matching distribution found for no-such-package==9.1" in log, log
    assert made_by(kube, "alice") == before  # nothing half-made left


WAITING = (
    BUILDS
    + r"""
import os, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    deadline = time.time() + 120
    while not os.path.exists({go!r}) and time.time() < deadline:
        time.sleep(0.1)
    return built(wheel_directory, "podium_waiting", "1.0")
"""
)


def layered_kube(
    kube: Cluster, index: Path, name: str, requirements: str, app_code: str = EXTRA_APP
) -> PodLauncher:
    """A launcher with the layers claim, and alice's folder ``name`` with ``app_code``."""
    assert kube.kubelet is not None
    kube.kubelet.bind_claim(kube.namespace, "podium-layers")
    app = kube.kubelet.claim_dir(kube.namespace, "claim-alice") / name
    app.mkdir(exist_ok=True)
    (app / "extra_app.py").write_text(app_code)
    (app / "requirements.txt").write_text(requirements)
    k = launcher(kube)
    k.environments = {}
    k.layers_claim = "podium-layers"
    k.requirements = RequirementsPolicy(("--no-index", "--find-links", str(index)), timeout=120)
    return k


def made_by(kube: Cluster, owner: str) -> set[Path]:
    """The builds in ``owner``'s folder of the layers claim."""
    assert kube.kubelet is not None
    folder = kube.kubelet.claim_dir(kube.namespace, "podium-layers") / owner
    return {p for p in folder.glob("*/*") if p.is_dir() and not p.is_symlink()}


def alices(name: str, folder: str) -> Dashboard:
    return Dashboard(owner="alice", name=name, framework="custom",
                     command=("{python}", "extra_app.py", "{port}"), source=Source(path=folder))  # fmt: skip


async def test_two_pods_starting_at_once_make_one_layer(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """Two dashboards with the same requirements.txt, their pods started together: one init
    container installs (its build held until the other says it waits), the other waits for
    it and reuses its layer."""
    index = images["old"].parent / "index-waiting"
    wheel(index, "podium_extra", "1.0")
    go = index / "go"
    sdist(index, "podium_waiting", "1.0", WAITING.replace("{go!r}", repr(str(go))))
    k = layered_kube(kube, index, "twice", "podium_extra==1.0\npodium_waiting==1.0\n")
    try:
        seen: list[list[Any]] = [[], []]
        starts = [settled(k, alices(name, "twice"), secrets.token_hex(8), True, progress)
                  for name, progress in zip(("twice-one", "twice-two"), seen, strict=True)]  # fmt: skip

        async def release() -> None:  # once one pod waits for the other's install
            for _ in range(450):
                if any("waiting for another" in str(m) for m in (*seen[0], *seen[1])):
                    break
                await asyncio.sleep(0.2)
            go.touch()

        releasing = asyncio.ensure_future(release())
        ended = await asyncio.gather(*starts)
        await releasing
    finally:
        await k.close()
    pages = [page for _, page in ended]
    assert all(observed.ready for observed, _ in ended), ended
    assert all(page.startswith("extra 1.0") for page in pages), pages
    assert sorted("installing 2 requirement(s)" in page for page in pages) == [False, True], pages
    assert any("reusing layer" in page for page in pages), pages
    said = [str(m) for m in (*seen[0], *seen[1])]
    assert any("waiting for another" in m for m in said), sorted(set(said))
    assert len([p for p in made_by(kube, "alice")
                if list(p.glob("lib/*/site-packages/podium_waiting"))]) == 1  # fmt: skip


async def hostile(
    kube: Cluster, images: dict[str, Path], name: str, backend: str, mb: int
) -> tuple[Observed, str]:
    """alice's dashboard ``name`` requiring ``podium_<name>``, whose build code is
    ``backend``, with a limit of ``mb`` MB: how its start ended, and its log; nothing of
    the install is left on the layers claim."""
    index = images["old"].parent / f"index-{name}"
    sdist(index, f"podium_{name}", "1.0", backend)
    before = made_by(kube, "alice")
    k = layered_kube(kube, index, name, f"podium_{name}==1.0\n")
    k.requirements = replace(k.requirements, max_bytes=mb << 20, max_total=2 * mb << 20)
    try:
        ended = await settled(k, alices(name, name), secrets.token_hex(8))
    finally:
        await k.close()
    assert made_by(kube, "alice") == before
    return ended


async def test_files_held_by_a_process_changing_its_pid_in_a_pod_are_measured(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """A pod makes no PID namespace (its runtime refuses user namespaces): the runner, the
    layers container's pid 1, stops the install's processes itself while it looks, so a
    process changing its pid every 2 ms cannot hold 120 MB unseen past a 50 MB limit."""
    observed, log = await hostile(kube, images, "churn", CHURNING, 50)
    assert not observed.ready and observed.permanent, observed
    assert observed.message == (
        "requirements.txt was installing more than this hub's limit of 50 MB"
    ), (observed, log)


async def test_a_process_continued_while_the_runner_looks_in_a_pod_voids_the_look(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The tenth re-test, in a pod (the runner stops the install itself there): build code
    continued by its own timer mid-look held 700 MB past a 300 MB limit for 39 s, unseen.
    A look during which a thread of the install ran does not count."""
    observed, log = await hostile(kube, images, "waking", WAKING, 200)
    assert observed.message in (
        "requirements.txt was installing more than this hub's limit of 200 MB",
        "the processes of requirements.txt's install ran while measured: cut short",
    ), (observed, log)


async def test_a_slow_look_in_a_pod_does_not_stretch_the_time_to_the_next(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The eleventh re-test, in a pod: build code made each look take seconds and held
    800 MB past a 100 MB limit in the four times as long until the next, unseen."""
    observed, log = await hostile(kube, images, "stretching", STRETCHING, 100)
    assert observed.message == (
        "requirements.txt was installing more than this hub's limit of 100 MB"
    ), (observed, log)


async def test_a_build_its_runner_cannot_read_is_refused_and_removed(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The twelfth re-test: build code made a folder of its build unreadable; the runner (not
    root in a pod) refused the install but could not remove the build, which stayed on
    the claim every owner shares, counted as gone. It is made removable, and removed."""
    observed, log = await hostile(kube, images, "vault", VAULT, 100)
    assert observed.message == (
        "requirements.txt's install cannot be measured ([Errno 13] Permission denied: 'vault')"
    ), (observed, log)
    assert kube.kubelet is not None
    owner = kube.kubelet.claim_dir(kube.namespace, "podium-layers") / "alice"
    assert not list(owner.glob("*/*/vault")), "the build is still there"


async def test_folders_an_install_in_a_pod_made_read_only_are_restored(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """The fourteenth re-test: build code in a pod (where chmod works: Landlock does not
    bound it) made its key's folder read-only, and the runner crashed making the layer's
    link, at that start and every later one; it made another layer of the owner's
    unreadable, and every later install of the owner's was refused (counted as 2**62
    bytes, unremovable). The runner makes them its own again."""
    index = images["old"].parent / "index-tampering"
    wheel(index, "podium_extra", "1.0")
    victim = layered_kube(kube, index, "victim", "podium_extra==1.0\n")
    before = made_by(kube, "alice")
    try:
        observed, page = await settled(victim, alices("victim", "victim"), secrets.token_hex(8))
        assert observed.ready, page
        (target,) = made_by(kube, "alice") - before  # its layer (the index makes its key)
        inside = f"/srv/podium/layers/{target.parent.name}/{target.name}"
        sdist(index, "podium_tampering", "1.0", TAMPERING.replace("{victim!r}", repr(inside)))
        app = EXTRA_APP.replace("import podium_extra", "import podium_tampering").replace(
            "podium_extra.__version__", "'tampered'"
        )
        k = layered_kube(kube, index, "tampering", "podium_tampering==1.0\n", app)
        k.requirements = victim.requirements
        for name in ("tampering", "tampering"):  # the layer made, then reused
            observed, page = await settled(k, alices(name, name), secrets.token_hex(8))
            assert observed.ready and page == "extra tampered", (observed, page)
        await k.close()
        observed, page = await settled(victim, alices("victim", "victim"), secrets.token_hex(8))
        assert observed.ready and page == "extra 1.0", (observed, page)
    finally:
        await victim.close()


async def test_nothing_an_install_in_a_pod_starts_outlives_it(
    kube: Cluster, images: dict[str, Path]
) -> None:
    """A build's process that leaves pip's group and keeps changing its pid: where no PID
    namespace can be made (a pod), the runner, its container's pid 1, kills every other
    process of the container once pip ends — none outruns that — so the layer is used as
    it was when marked."""
    index = images["old"].parent / "index-linger"
    sdist(index, "podium_linger", "1.0", LINGERING)
    app = EXTRA_APP.replace("podium_extra.__version__", "'lingered'").replace(
        "import podium_extra", "import podium_linger"
    )
    before = made_by(kube, "alice")
    k = layered_kube(kube, index, "linger", "podium_linger==1.0\n", app)
    try:
        observed, page = await settled(k, alices("linger", "linger"), secrets.token_hex(8))
    finally:
        await k.close()
    assert observed.ready and page == "extra lingered", (observed, page)
    (made,) = made_by(kube, "alice") - before
    beat = (made / "beat").stat().st_mtime_ns  # it ran, and wrote while pip did
    await asyncio.sleep(4)
    assert (made / "beat").stat().st_mtime_ns == beat and not (made / "late").exists()
