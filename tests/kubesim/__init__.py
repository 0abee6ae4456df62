"""A Kubernetes API double with a kubelet that runs pods as local processes (see api.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.kubesim.api import ApiServer
from tests.kubesim.kubelet import Kubelet

NAMESPACE = "podium"


@dataclass
class Cluster:
    """What the Kubernetes tests talk to: a kubeconfig, plus the double's handles (or None)."""

    kubeconfig: Path
    namespace: str
    api: ApiServer | None = None
    kubelet: Kubelet | None = None

    @property
    def simulated(self) -> bool:
        return self.api is not None


@contextlib.asynccontextmanager
async def simulated_cluster(root: Path, namespace: str = NAMESPACE) -> AsyncIterator[Cluster]:
    if os.geteuid() != 0:
        import pytest

        pytest.skip("the simulated kubelet needs root (mount namespaces, pod users)")
    # The Role an admin applies (deploy/; the chart renders the same), enforced per request.
    rbac = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "rbac.yaml"
    role = next(d for d in yaml.safe_load_all(rbac.read_text()) if d and d["kind"] == "Role")
    api = ApiServer(rules=role["rules"])
    await api.start()
    kubelet = Kubelet(api, root, namespace=namespace)
    path = root / "kubeconfig"
    path.write_text(api.kubeconfig(namespace))
    path.chmod(0o600)
    try:
        yield Cluster(path, namespace, api, kubelet)
    finally:
        await kubelet.close()
        await api.stop()


@contextlib.asynccontextmanager
async def cluster(root: Path) -> AsyncIterator[Cluster]:
    """``$KUBECONFIG``'s cluster when set (namespace ``$PODIUM_TEST_NAMESPACE``), else the double."""
    if os.environ.get("KUBECONFIG"):
        yield Cluster(
            Path(os.environ["KUBECONFIG"]), os.environ.get("PODIUM_TEST_NAMESPACE", NAMESPACE)
        )
        return
    async with simulated_cluster(root) as c:
        yield c
