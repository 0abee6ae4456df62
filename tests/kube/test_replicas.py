"""Two gateway replicas on one PostgreSQL, one cluster: a dashboard started through both at
once runs as one pod, and both proxy to it (the Deployment's ``replicas: 2`` case).

Which replica launches depends on timing (the second usually finds it 'starting' already);
when both do create the pod, the loser adopts the winner's launch:
``test_launcher.py::test_two_gateways_starting_one_dashboard_make_one_pod`` forces that race.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.kubesim import Cluster, simulated_cluster
from tests.support.flows import wait_status
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, free_port, hub_stack, wait_http
from tests.support.kubestack import KUBE_CONFIG, SALES, pods
from tests.support.postgres import fresh_database

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@pytest_asyncio.fixture(loop_scope="session")
async def replicas(
    tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[HubStack, Cluster, int]]:
    async with simulated_cluster(tmp_path) as c:
        assert c.kubelet is not None
        c.kubelet.bind_claim(c.namespace, "claim-alice")
        shutil.copytree(
            APPS / "streamlit", c.kubelet.claim_dir(c.namespace, "claim-alice") / "apps/sales"
        )
        extra = KUBE_CONFIG.format(
            kubeconfig=str(c.kubeconfig), namespace=c.namespace, storage="per-user",
            clone_class="",
        )  # fmt: skip
        (tmp_path / "hub").mkdir()
        db = await fresh_database(postgres_url)
        async with hub_stack(tmp_path / "hub", db_url=db, podium_extra=extra) as stack:
            # The second replica: same database, secret and hub token; its own port. Only
            # the first keeps the proxy's route (in a cluster both sit behind one Service).
            port = free_port()
            config = (stack.dir / "podium_config.py").read_text()
            config += f'c.Podium.port = {port}\nc.Podium.proxy_api_url = ""\n'
            (stack.dir / "podium2_config.py").write_text(config)
            podium = str(Path(sys.executable).parent / "podium")
            await stack._start("podium2", [podium, "-f", str(stack.dir / "podium2_config.py")])
            await wait_http(f"http://127.0.0.1:{port}/dashboards/_/health", stack, "podium2")
            yield stack, c, port


async def test_one_dashboard_woken_through_two_replicas_runs_once(
    replicas: tuple[HubStack, Cluster, int],
) -> None:
    stack, c, port = replicas
    tokens = {u: await stack.token_for(u) for u in ("alice", "bob")}
    gateways = [f"http://127.0.0.1:{stack.podium_port}", f"http://127.0.0.1:{port}"]
    alice = {"Authorization": f"token {tokens['alice']}"}
    async with aiohttp.ClientSession(headers=alice) as s:
        body = {**SALES, "idle_timeout": 600}
        async with s.post(gateways[0] + "/dashboards/_/api/dashboards", json=body) as r:
            assert r.status == 201, await r.text()

        async def start(base: str) -> int:
            async with s.post(base + "/dashboards/_/api/dashboards/alice/sales/start") as r:
                return r.status

        assert await asyncio.gather(*(start(g) for g in gateways)) == [202, 202]
    await wait_status(stack, tokens, "sales", "ready")
    assert len(pods(c, "sales")) == 1
    bob = {"Authorization": f"token {tokens['bob']}"}
    async with aiohttp.ClientSession(headers=bob) as s:
        for base in gateways:  # both replicas reach the one runner (one launch, one credential)
            for _ in range(50):
                async with s.get(base + "/dashboards/alice/sales/_stcore/health") as r:
                    if r.status == 200:
                        assert await r.text() == "ok"
                        break
                await asyncio.sleep(0.3)
            else:
                raise AssertionError(f"{base} never reached the dashboard: {r.status}")
    assert len(pods(c, "sales")) == 1
