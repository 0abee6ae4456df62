"""NetworkPolicies hold between the simulated cluster's pods, as in a cluster.

The launcher's own policy is what is enforced: a runner pod takes connections from the
gateway's pods only (this machine's processes play the gateway's pod here), and goes
out to no private address — another pod included — unless the admin allows it.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from gateway.domain.dashboards import Dashboard, Source
from gateway.launchers.kube.launcher import PodLauncher
from gateway.launchers.kube.manifests import RUNNER
from tests.kubesim import Cluster, simulated_cluster
from tests.kubesim.network import GATEWAY_LABELS, Refusal
from tests.support.harness import APPS
from tests.support.kubestack import pod, said

pytestmark = [pytest.mark.functional]

PROBE = r"""
import os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    print("CONNECTED" if sock.recv(12).startswith(b"HTTP/") else "NO ANSWER", flush=True)
except OSError as e:
    print("REFUSED", e, flush=True)
"""
SERVE = "import http.server as h, os; h.HTTPServer((os.environ['POD_IP'], 8080), " \
        "h.SimpleHTTPRequestHandler).serve_forever()"  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with simulated_cluster(tmp_path_factory.mktemp("net")) as c:
        assert c.kubelet is not None
        c.kubelet.bind_claim(c.namespace, "claim-alice")
        shutil.copytree(
            APPS / "streamlit", c.kubelet.claim_dir(c.namespace, "claim-alice") / "apps/sales"
        )
        yield c


def launcher(kube: Cluster, **options: Any) -> PodLauncher:
    return PodLauncher(
        "/dashboards/", [], [], [], kubeconfig=str(kube.kubeconfig), namespace=kube.namespace,
        image="podium/runner:test", **options,
    )  # fmt: skip


async def probe(kube: Cluster, name: str, labels: dict[str, str], ip: str, port: int) -> str:
    assert kube.api is not None
    kube.api.create(
        "pods", kube.namespace, pod(name, labels, ["python", "-c", PROBE, ip, str(port)])
    )
    return await said(kube, name)


async def running_ip(kube: Cluster, name: str) -> str:
    assert kube.api is not None
    for _ in range(300):
        status = (kube.api.get("pods", kube.namespace, name) or {}).get("status", {})
        if status.get("podIP") and all(
            c.get("ready") for c in status.get("containerStatuses") or [{}]
        ):
            return str(status["podIP"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never ran")


async def test_a_runner_takes_connections_from_the_gateway_only(kube: Cluster) -> None:
    assert kube.kubelet is not None
    k = launcher(kube)
    dashboard = Dashboard(owner="alice", name="guarded", framework="streamlit", entry="app.py",
                          source=Source("storage", "apps/sales"))  # fmt: skip
    try:
        runtime = await k.start(dashboard, secrets.token_hex(8), "c" * 32)
        for _ in range(600):
            observed = await k.inspect(dashboard, runtime)
            if observed.ready:
                break
            await asyncio.sleep(0.2)
        assert observed.ready and observed.address is not None, observed
        ip, port = observed.address
        url = f"http://{ip}:{port}{dashboard.url('/dashboards/')}"
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            assert r.status == 403  # reached (this machine: the gateway's pod); no credential
        # A user's server (Z2JH's labels) or any other pod: refused by the runners' policy.
        singleuser = {"component": "singleuser-server", "app": "jupyterhub"}
        assert "REFUSED" in await probe(kube, "jupyter-bob", singleuser, ip, port)
        assert Refusal("jupyter-bob", runtime.details["pod"], port) in kube.kubelet.network.refused
        # A second gateway replica (the chart's labels): admitted.
        assert "CONNECTED" in await probe(kube, "podium-2", dict(GATEWAY_LABELS), ip, port)
        # The gateway without the labels the policy names (an admin changed them): refused.
        kube.kubelet.network.host_labels = {"app.kubernetes.io/name": "podium"}
        try:
            with pytest.raises(aiohttp.ClientError):
                async with aiohttp.ClientSession() as s, s.get(url) as r:
                    await r.read()
        finally:
            kube.kubelet.network.host_labels = dict(GATEWAY_LABELS)
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


@pytest.mark.parametrize("private_ips", [False, True])
async def test_runners_reach_other_pods_only_where_private_addresses_are_allowed(
    kube: Cluster, private_ips: bool
) -> None:
    """Pods' addresses are private ones (10.244.x.y as policies see them): a runner pod
    reaches none, a database pod included, unless egress_private_ips."""
    assert kube.api is not None
    k = launcher(kube, egress_private_ips=private_ips)
    suffix = secrets.token_hex(3)
    try:
        await k._ensure_network_policy()  # what a start makes first
        server = f"db-{suffix}"
        kube.api.create(
            "pods", kube.namespace, pod(server, {"app": "db"}, ["python", "-c", SERVE], 8080)
        )
        ip = await running_ip(kube, server)
        assert "CONNECTED" in await probe(kube, f"plain-{suffix}", {"app": "other"}, ip, 8080)
        printed = await probe(kube, f"runner-{suffix}", dict(RUNNER), ip, 8080)
        assert ("CONNECTED" if private_ips else "REFUSED") in printed, printed
    finally:
        await k.close()
