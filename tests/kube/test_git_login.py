"""A private repository's login on Kubernetes reaches the clone, never the dashboard's code.

In a pod the app runs as the same user as the runner, without the local launcher's
sandbox: anything in the app's container is the app's. So a git source is cloned by
an init container of its own, the only one given the admin's ``git_secret`` and the
dashboard's own login; the app's container gets a spec without them. The app here
looks where a hostile owner's code would (its environment, every process's
environment and command line, every file under the pod's mounts) and must find the
repository's URL (the control: it can read its spec) and never the password.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from cryptography.fernet import Fernet

from gateway.domain.dashboards import Dashboard, Source
from gateway.domain.runtime import Runtime
from gateway.domain.secrets import GIT, Crypt
from gateway.launchers.base import runner_credential
from gateway.launchers.kube.launcher import PodLauncher
from runners.contract import CREDENTIAL_HEADER
from tests.kubesim import Cluster, simulated_cluster
from tests.support.gitserver import inspecting_repository, private_repository

pytestmark = [pytest.mark.functional]
ADMINS, OWNERS = "admin-" + secrets.token_hex(6), "owner-" + secrets.token_hex(6)
PREFIX = "/dashboards/"
COMMAND = ["{python}", "inspect_app.py", "--port", "{port}", "--prefix", "{prefix}"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    # The simulated cluster only: the repository is served on this machine's loopback.
    async with simulated_cluster(tmp_path_factory.mktemp("kube")) as c:
        assert c.api is not None
        login = {"username": "alice", "password": ADMINS}
        c.api.create("secrets", c.namespace, {"metadata": {"name": "git-login"},
                                              "stringData": login})  # fmt: skip
        yield c


async def search(url: str, credential: str, value: str) -> dict[str, Any]:
    query = {"for": value, "under": "/srv/podium"}
    async with (
        aiohttp.ClientSession() as s,
        s.get(url + "search", params=query, headers={CREDENTIAL_HEADER: credential}) as r,
    ):
        assert r.status == 200, await r.text()
        found: dict[str, Any] = await r.json()
        return found


async def launch(k: PodLauncher, dashboard: Dashboard) -> tuple[Runtime, str, str]:
    launch_id = secrets.token_hex(8)
    credential = runner_credential(b"s" * 32, dashboard, launch_id)
    runtime = await k.start(dashboard, launch_id, credential)
    for _ in range(600):
        observed = await k.inspect(dashboard, runtime)
        if observed.ready or not observed.running:
            break
        await asyncio.sleep(0.2)
    assert observed.ready and observed.address, (observed, await k.logs(dashboard, runtime, 50))
    host, port = observed.address
    log = "\n".join(await k.logs(dashboard, runtime, 100))
    assert "checked out" in log, log  # the clone's log, on the owner's log page too
    return runtime, f"http://{host}:{port}{dashboard.url(PREFIX)}", credential


@pytest.mark.parametrize("whose", ["admin's git_secret", "the dashboard's own login"])
async def test_the_login_reaches_the_clone_not_the_app(
    kube: Cluster, tmp_path: Path, whose: str
) -> None:
    crypt = Crypt([Fernet.generate_key()])
    password = ADMINS if whose.startswith("admin") else OWNERS
    own = {} if password == ADMINS else {GIT: crypt.encrypt(f"alice:{OWNERS}")}
    k = PodLauncher(PREFIX, ["http"], [], ["127.0.0.1"], kubeconfig=str(kube.kubeconfig),
                    namespace=kube.namespace, image="podium/runner:test", ready_timeout=120,
                    git_secret="git-login")  # fmt: skip
    k.crypt = crypt
    with private_repository(inspecting_repository(tmp_path / "repo"), "alice", password) as repo:
        dashboard = Dashboard(owner="alice", name=f"private-{len(own)}", framework="custom",
                              command=tuple(COMMAND), source=Source("git", "app", url=repo),
                              secrets=own)  # fmt: skip
        runtime, url, credential = await launch(k, dashboard)
        try:
            control = await search(url, credential, repo)
            assert any(p.endswith("spec.json") for p in control["found"]), control
            seen = await search(url, credential, password)
            assert seen["found"] == [] and seen["looked"] > 10, seen
        finally:
            await k.stop(dashboard, runtime)
            await k.close()


async def test_a_refused_clone_says_why_and_its_log_is_kept(kube: Cluster, tmp_path: Path) -> None:
    k = PodLauncher(PREFIX, ["http"], [], ["127.0.0.1"], kubeconfig=str(kube.kubeconfig),
                    namespace=kube.namespace, image="podium/runner:test")  # fmt: skip
    with private_repository(
        inspecting_repository(tmp_path / "repo"), "alice", "not-the-admins"
    ) as repo:
        dashboard = Dashboard(owner="alice", name="refused", framework="custom",
                              command=tuple(COMMAND), source=Source("git", "app", url=repo))  # fmt: skip
        launch_id = secrets.token_hex(8)
        runtime = await k.start(dashboard, launch_id, runner_credential(b"s" * 32, dashboard,
                                                                        launch_id))  # fmt: skip
        try:
            for _ in range(300):
                observed = await k.inspect(dashboard, runtime)
                if not observed.running:
                    break
                await asyncio.sleep(0.2)
            assert observed.message.startswith("the source could not be fetched: could not "
                                               "fetch the default branch"), observed  # fmt: skip
            released = await k.release(dashboard, runtime)
            log = "\n".join(await k.logs(dashboard, released, 100))
            assert "git fetch failed" in log and "could not read Username" in log, log
        finally:
            await k.stop(dashboard, runtime)
            await k.close()
