"""Podium on Kubernetes, end to end: JupyterHub, configurable-http-proxy, the gateway with
``c.Podium.launcher = "kubernetes"``, and runner pods (the simulated cluster's kubelet runs
them as real processes; or ``$KUBECONFIG``'s cluster).

For each storage mode: alice publishes a Streamlit app to the group analysts, bob opens the
link, the pod starts, the app and its WebSocket work through the whole proxy chain; left
alone, the dashboard stops on idle and its pod goes; deleting the dashboard removes what was
kept for it (the clone). A git dashboard goes the same way.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from tests.kubesim import Cluster, cluster
from tests.support.flows import api, open_until_app, streamlit_round_trip, wait_status
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, browser, browser_login, hub_stack
from tests.support.kubestack import KUBE_CONFIG, SALES, pods

pytestmark = [pytest.mark.functional, pytest.mark.slow]

MODES = ["per-user", "static", "clone"]


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube_stack(
    mode: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[HubStack, Cluster]]:
    tmp = tmp_path_factory.mktemp(f"kube-{mode}")
    async with cluster(tmp) as c:
        if mode == "clone" and not c.simulated and not os.environ.get("PODIUM_TEST_CLONE_CLASS"):
            pytest.skip("set $PODIUM_TEST_CLONE_CLASS to a storage class that can clone")
        if c.kubelet is not None:
            c.kubelet.bind_claim(c.namespace, "claim-alice")
            c.kubelet.bind_claim(c.namespace, "home-nfs")
            shutil.copytree(
                APPS / "streamlit", c.kubelet.claim_dir(c.namespace, "claim-alice") / "apps/sales"
            )
            shutil.copytree(
                APPS / "streamlit",
                c.kubelet.claim_dir(c.namespace, "home-nfs") / "alice/apps/sales",
            )
        extra = KUBE_CONFIG.format(
            kubeconfig=str(c.kubeconfig),
            namespace=c.namespace,
            storage=mode,
            clone_class=os.environ.get("PODIUM_TEST_CLONE_CLASS", "csi-clone"),
        )
        (tmp / "hub").mkdir()
        async with hub_stack(tmp / "hub", podium_extra=extra) as stack:
            yield stack, c


async def publish_open_idle_delete(
    stack: HubStack, c: Cluster, tokens: dict[str, str], body: dict[str, Any]
) -> None:
    name = body["name"]
    status, created = await api(stack, tokens["alice"], "POST", "/dashboards", body)
    assert status == 201, created
    async with browser() as bob:
        await browser_login(bob, stack, "bob")
        seen = await open_until_app(
            bob, stack.podium + f"alice/{name}/", "<title>Streamlit</title>"
        )
        assert seen[0] == 202 and seen[-1] == 200  # woken by a viewer, through a pod
        if c.simulated:
            assert len(pods(c, name)) == 1
        await streamlit_round_trip(bob, stack, f"alice/{name}/")
    await wait_status(stack, tokens, name, "stopped", timeout=60)  # idle: stopped
    if c.simulated:
        for _ in range(100):
            if not pods(c, name):
                break
            await asyncio.sleep(0.2)
        assert not pods(c, name)
    status, _ = await api(stack, tokens["alice"], "DELETE", f"/dashboards/alice/{name}")
    assert status == 204
    if c.api is not None:
        left = [n for (p, _, n) in c.api.objects if p in ("secrets", "persistentvolumeclaims")
                and f"-{name}-" in n]  # fmt: skip
        assert left == []  # the clone (in clone mode) and every launch spec are gone


async def test_streamlit_on_kubernetes(kube_stack: tuple[HubStack, Cluster]) -> None:
    stack, c = kube_stack
    tokens = {u: await stack.token_for(u) for u in ("alice", "bob")}
    await publish_open_idle_delete(stack, c, tokens, SALES)


async def test_git_dashboard_on_kubernetes(
    kube_stack: tuple[HubStack, Cluster],
    served_repo: str,
    mode: str,
) -> None:
    if mode != MODES[0]:
        pytest.skip("git does not depend on the storage mode: once is enough")
    stack, c = kube_stack
    if not c.simulated:
        pytest.skip("the repository is served on this machine's loopback")
    tokens = {u: await stack.token_for(u) for u in ("alice", "bob")}
    body = {**SALES, "name": "from-git", "source": {"type": "git", "url": served_repo}}
    await publish_open_idle_delete(stack, c, tokens, body)


async def test_api_errors_from_kubernetes_are_json_for_the_owner(
    kube_stack: tuple[HubStack, Cluster], mode: str
) -> None:
    """The API server failing a log read or a stop: the owner gets the API's JSON error with
    Kubernetes' reason, not a bare 500; a failed stop says so, and a second one works."""
    if mode != MODES[0]:
        pytest.skip("does not depend on the storage mode: once is enough")
    stack, c = kube_stack
    if c.api is None:
        pytest.skip("faults are injected into the simulated API server")
    token = await stack.token_for("alice")
    body = {**SALES, "name": "faulty", "idle_timeout": 600}
    assert (await api(stack, token, "POST", "/dashboards", body))[0] == 201
    await wait_status(stack, {"alice": token}, "faulty", "ready", start=True)

    c.api.fail("GET", "/pods/[^/]+/log$", 500)
    status, answer = await api(stack, token, "GET", "/dashboards/alice/faulty/logs")
    assert status == 502 and "cannot read the runner's log" in answer["message"], answer

    c.api.fail("DELETE", "/pods/", 500)
    status, answer = await api(stack, token, "POST", "/dashboards/alice/faulty/stop")
    assert status == 502 and "injected fault" in answer["message"], answer
    _, seen = await api(stack, token, "GET", "/dashboards/alice/faulty")
    assert seen["status"] == "failed" and "the stop failed" in seen["message"], seen

    assert (await api(stack, token, "POST", "/dashboards/alice/faulty/stop"))[0] == 200
    assert (await api(stack, token, "DELETE", "/dashboards/alice/faulty"))[0] == 204


async def test_a_failed_start_leaves_its_log_not_its_pod(
    kube_stack: tuple[HubStack, Cluster], mode: str
) -> None:
    """A start that fails is reported, its pod removed (no node room held, no Secret
    left), and the owner still reads why on the log API."""
    if mode != MODES[0]:
        pytest.skip("does not depend on the storage mode: once is enough")
    stack, c = kube_stack
    token = await stack.token_for("alice")
    body = {**SALES, "name": "typo", "entry": "ap.py"}
    assert (await api(stack, token, "POST", "/dashboards", body))[0] == 201
    await wait_status(stack, {"alice": token}, "typo", "failed", start=True)
    if c.simulated:
        for _ in range(100):
            if not pods(c, "typo"):
                break
            await asyncio.sleep(0.1)
        assert not pods(c, "typo")
    status, answer = await api(stack, token, "GET", "/dashboards/alice/typo/logs")
    assert status == 200 and any("ap.py" in line for line in answer["lines"]), answer
    assert (await api(stack, token, "DELETE", "/dashboards/alice/typo"))[0] == 204
