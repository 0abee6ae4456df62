"""The deployment manifests: valid Kubernetes objects, and RBAC that is exactly enough.

The Role must grant every call the Kubernetes launcher makes, and nothing more: the calls
are read from the launcher's and reflector's source, so a new call without its grant (or a
grant nobody uses) fails here rather than in a cluster.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.kubestack import used_grants

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"


def documents() -> list[dict[str, object]]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.mark.parametrize("version", ["1.28", "1.31"])
def test_every_manifest_is_valid(version: str) -> None:
    docs = documents()
    assert {d["kind"] for d in docs} >= {"ServiceAccount", "Role", "RoleBinding", "Deployment"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_role_grants_exactly_what_the_launcher_uses() -> None:
    (role,) = [d for d in documents() if d["kind"] == "Role"]
    granted = {
        (resource, verb)
        for rule in role["rules"]  # type: ignore[index]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == used_grants()


def test_the_gateway_runs_unprivileged_with_the_labels_runners_admit() -> None:
    (deployment,) = [d for d in documents() if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]  # type: ignore[index]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    from gateway.launchers.kube.launcher import PodLauncher

    default = PodLauncher.class_traits()["gateway_labels"].default()
    assert default.items() <= pod["metadata"]["labels"].items()
