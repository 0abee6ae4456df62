"""The Kubernetes manifests, per storage scenario: golden files, and the official schema.

A change to a manifest shows as a diff of its golden file; regenerate them with
``PODIUM_UPDATE_GOLDEN=1 pytest tests/kube/test_manifests.py`` and read the diff.
Every manifest is validated against the Kubernetes OpenAPI schema of the
versions Podium supports (``kubernetes-validate``, strict: no unknown fields).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from gateway.launchers.kube.manifests import (
    RunnerPlan,
    Storage,
    label_value,
    make_clone_pvc,
    make_pod,
    make_spec_secret,
    object_name,
)
from gateway.launchers.kube.netpolicy import make_network_policy
from gateway.launchers.kube.placement import Placement, Profile
from tests.support.kubestack import plan

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).parent / "golden"
VERSIONS = ("1.28", "1.31")  # the oldest and a recent supported Kubernetes
GATEWAY = {"app.kubernetes.io/name": "podium", "app.kubernetes.io/component": "gateway"}
GPU = Profile(
    name="gpu",
    display_name="GPU",
    cpu_request="2",
    cpu_limit="4",
    memory_request="8Gi",
    memory_limit="16Gi",
    node_selector={"nvidia.com/gpu.present": "true"},
    tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
    extra_resource_limits={"nvidia.com/gpu": "1"},
)


SCENARIOS: dict[str, RunnerPlan] = {
    "static": plan(Storage("static", claim="home-nfs", sub_path="home/alice")),
    "per-user": plan(Storage("per-user", claim="claim-alice")),
    "per-user-writable": plan(Storage("per-user", claim="claim-alice", writable=True)),
    "clone": plan(
        Storage(
            "clone",
            claim=object_name("clone", "alice", "sales"),
            clone_from="claim-alice",
            storage_class="csi-rbd",
            size="5Gi",
        )
    ),
    "git-private": plan(Storage("git"), git_secret="podium-git"),
    "hybrid-gpu": plan(
        Storage("per-user", claim="claim-alice"),
        profile=GPU,
        image_pull_secrets=("registry",),
        extra_volumes=({"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}},),
        extra_volume_mounts=({"name": "shared", "mountPath": "/srv/podium/shared"},),
        extra_labels={"team": "risk", "app.kubernetes.io/component": "not-a-runner"},
        placement=Placement(
            node_purpose="require",
            priority_class="dashboards",
            annotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
            pod_config={"dnsConfig": {"options": [{"name": "ndots", "value": "2"}]}},
        ),
    ),
    "unusual-names": plan(Storage("git"), owner="Émile.O'Brien@example.org", name="q3"),
    # An environment's image (the hub's single-user image), a git source: two init containers.
    "environment-image": plan(
        Storage("git"),
        app_image="quay.io/jupyter/scipy-notebook:2024-05-27",
        app_python="/opt/conda/bin/python",
        app_pull_policy="Always",
    ),
}


def documents(scenario: str) -> list[dict[str, Any]]:
    p = SCENARIOS[scenario]
    fetch = (
        '{"framework": "streamlit", "source": {"type": "git"}}' if p.storage.mode == "git" else ""
    )
    docs = [make_pod(p), make_spec_secret(p, '{"framework": "streamlit"}', "5f0c-uid", fetch)]
    if p.storage.mode == "clone":
        docs.append(make_clone_pvc(p))
    return docs


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_golden(scenario: str) -> None:
    got = json.dumps(documents(scenario), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{scenario}.json"
    if os.environ.get("PODIUM_UPDATE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text(), f"{path.name} differs: regenerate and review the diff"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_valid_against_the_kubernetes_schema(scenario: str, version: str) -> None:
    for doc in documents(scenario):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_network_policy_is_valid(version: str) -> None:
    kubernetes_validate.validate(make_network_policy("hub", GATEWAY), version, strict=True)


def test_the_schema_check_would_catch_a_mistake() -> None:
    pod = make_pod(SCENARIOS["static"])
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = "no"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, VERSIONS[-1], strict=True)


def test_pods_are_hardened() -> None:
    for scenario in SCENARIOS:
        pod = make_pod(SCENARIOS[scenario])
        spec, container = pod["spec"], pod["spec"]["containers"][0]
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        # The credential lives in the spec Secret, never in the pod spec.
        assert "credential" not in json.dumps(pod).lower()


def test_source_is_read_only_unless_the_admin_allows_writes() -> None:
    def source_mount(scenario: str) -> dict[str, Any]:
        mounts = make_pod(SCENARIOS[scenario])["spec"]["containers"][0]["volumeMounts"]
        return next(m for m in mounts if m["name"] == "source")

    assert source_mount("per-user")["readOnly"] is True
    assert source_mount("per-user-writable")["readOnly"] is False
    assert source_mount("static")["subPath"] == "home/alice"


@pytest.mark.parametrize(
    ("value", "safe"),
    [("alice", True), ("a.b-c_d", True), ("Émile", False), ("x@y", False), ("a" * 64, False)],
)
def test_label_values(value: str, safe: bool) -> None:
    got = label_value(value)
    assert (got == value) is safe
    assert len(got) <= 63


def test_object_names_are_dns_labels_and_distinct() -> None:
    a = object_name("", "alice", "x" * 80)
    b = object_name("", "alice", "x" * 81)
    assert len(a) <= 63 and len(b) <= 63 and a != b
    assert object_name("clone", "Émile.O'Brien@example.org", "q3").startswith("podium-clone-mile")


def test_a_dashboard_runs_with_its_profile() -> None:
    from gateway.domain.dashboards import Dashboard
    from gateway.launchers.kube.launcher import PodLauncher

    k = PodLauncher(
        "/dashboards/",
        ["https"],
        [],
        namespace="hub",
        profiles=[
            {"name": "small", "memory_limit": "512Mi"},
            {"name": "gpu", "memory_limit": "16Gi", "node_selector": {"gpu": "yes"}},
        ],
    )
    gpu = Dashboard("alice", "sales", "streamlit", entry="app.py", profile="gpu")
    pod = make_pod(k.plan(gpu, "0" * 16))
    assert pod["spec"]["nodeSelector"] == {"gpu": "yes"}
    assert pod["spec"]["containers"][0]["resources"]["limits"]["memory"] == "16Gi"
    default = make_pod(k.plan(Dashboard("alice", "x", "streamlit", entry="a.py"), "0" * 16))
    assert default["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"


def test_placement_as_zero_to_jupyterhub_places_user_pods() -> None:
    """Z2JH's user-pod tolerations and node-purpose affinity by default; the admin's
    labels, annotations and extra fields added, never over Podium's own labels."""
    default = make_pod(plan(Storage("git")))["spec"]
    assert {t["key"] for t in default["tolerations"]} == {
        "hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated"}  # fmt: skip
    assert "preferredDuringSchedulingIgnoredDuringExecution" in default["affinity"]["nodeAffinity"]
    pod = documents("hybrid-gpu")[0]
    spec, meta = pod["spec"], pod["metadata"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in spec["affinity"]["nodeAffinity"]
    assert len(spec["tolerations"]) == 3  # the profile's GPU one and Z2JH's two
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["priorityClassName"] == "dashboards" and spec["dnsConfig"]["options"]
    assert meta["labels"]["team"] == "risk"
    assert meta["labels"]["app.kubernetes.io/component"] == "runner"  # Podium's stays
    assert meta["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    ignored = make_pod(plan(Storage("git"), placement=Placement(node_purpose="ignore")))
    assert "affinity" not in ignored["spec"] and "tolerations" not in ignored["spec"]
