"""What the Kubernetes end-to-end tests share: the gateway's configuration for the
cluster, the dashboard they publish, and the pods of a dashboard."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gateway.launchers.kube.manifests import RunnerPlan, Storage
from tests.kubesim import Cluster

KUBE_CONFIG = """
c.Podium.launcher = "kubernetes"
c.KubeLauncher.kubeconfig = {kubeconfig!r}
c.KubeLauncher.namespace = {namespace!r}
c.KubeLauncher.image = "podium/runner:test"
c.KubeLauncher.storage = {storage!r}
c.KubeLauncher.clone_storage_class = {clone_class!r}
c.KubeLauncher.ready_timeout = 120
c.Podium.git_allowed_schemes = ["git", "https"]
c.Podium.git_internal_hosts = ["127.0.0.1"]  # the test's repository, served on loopback
"""

SALES: dict[str, Any] = {
    "name": "sales",
    "title": "Sales",
    "framework": "streamlit",
    "entry": "app.py",
    "source": {"type": "storage", "path": "apps/sales"},
    "access": {"mode": "restricted", "groups": ["analysts"]},
    "idle_timeout": 8,  # stops soon after the round trip, not before it
}


def pods(c: Cluster, name: str) -> list[str]:
    assert c.api is not None
    return [n for (p, _, n) in c.api.objects if p == "pods" and f"-{name}-" in n]


def plan(storage: Storage, **change: Any) -> RunnerPlan:
    fields: dict[str, Any] = {
        "owner": "alice",
        "name": "sales",
        "namespace": "hub",
        "launch_id": "0123456789abcdef",
        "image": "quay.io/podium/runner:0.1.0",
        "storage": storage,
        "spec_secret": "podium-spec-alice-sales-5c2f6a3e",
    }
    fields.update(change)
    fields["url"] = f"/dashboards/{quote(fields['owner'], safe='')}/{fields['name']}/"
    return RunnerPlan(**fields)


ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "gateway/launchers/kube/apiserver.py",
    ROOT / "gateway/launchers/kube/reflector.py",
]
VERBS = {"create": "create", "delete": "delete", "list": "list", "read": "get",
         "delete_collection": "deletecollection"}  # fmt: skip
RESOURCES = {"pod": "pods", "secret": "secrets", "persistent_volume_claim": "persistentvolumeclaims",
             "event": "events", "network_policy": "networkpolicies", "pod_log": "pods/log"}  # fmt: skip


def used_grants() -> set[tuple[str, str]]:
    """Every (resource, verb) the Kubernetes launcher calls, read from its source."""
    grants = set()
    for source in SOURCES:
        text = source.read_text()
        for verb, resource in re.findall(
            r"\.(create|delete_collection|delete|list|read)_namespaced_(\w+)\b", text
        ):
            grants.add((RESOURCES[resource], VERBS[verb]))
        if "watch=True" in text:
            grants.add(("pods", "watch"))
    return grants


def pod(name: str, labels: dict[str, str], command: list[str], port: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": "podium/runner:test",
        "command": command,
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
    }
    if port:  # ready once it answers there (the kubelet probes from the node)
        container["ports"] = [{"containerPort": port, "protocol": "TCP"}]
        container["readinessProbe"] = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}
    spec = {"containers": [container], "restartPolicy": "Never",
            "tolerations": [{"key": "hub.jupyter.org/dedicated", "operator": "Exists"}]}  # fmt: skip
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


async def said(kube: Cluster, name: str) -> str:
    """What a pod printed, once it has ended."""
    assert kube.api is not None
    for _ in range(300):
        found = kube.api.get("pods", kube.namespace, name) or {}
        if found.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return kube.api.logs[(kube.namespace, name, "main")](None)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} never ended")
