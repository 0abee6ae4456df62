"""The Helm chart (deploy/helm/podium), rendered by the real helm: it lints, every object
it renders is a valid Kubernetes object, its variants hold what they promise, its Role is
exactly what the launcher uses, and the configuration it renders is one the gateway loads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.config import Podium
from gateway.launchers.kube.launcher import PodLauncher
from tests.support.kubestack import used_grants

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "podium"
HELM = ROOT / ".tools" / "helm" / "helm"  # scripts/setup puts it there


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail("no helm: run scripts/setup (it unpacks helm into .tools/)")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=60)


def render(*sets: str) -> list[dict[str, Any]]:
    args = [
        a for s in sets for a in (("--set-json", s[5:]) if s.startswith("json:") else ("--set", s))
    ]
    done = helm("template", "podium", str(CHART), "--namespace", "jhub", *args)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def kinds(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


def test_the_chart_lints() -> None:
    done = helm("lint", "--strict", str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr


INGRESS = ("ingress.enabled=true", "ingress.dashboardsPath=true",
           "publicUrl=https://hub.example.org", "dashboardOrigin=https://{dashboard}.dash.example.org")  # fmt: skip


@pytest.mark.parametrize("version", ["1.28", "1.31"])
@pytest.mark.parametrize("sets", [(), ("replicas=3", "database.existingSecret=podium-pg"),
                                  ("extraConfig=c.Podium.public_enabled = True",), INGRESS])  # fmt: skip
def test_every_rendered_object_is_valid(version: str, sets: tuple[str, ...]) -> None:
    docs = render(*sets)
    assert {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Deployment",
            "Service"} <= set(kinds(docs))  # fmt: skip
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_one_replica_on_sqlite_several_on_postgresql() -> None:
    one = kinds(render())
    assert one["Deployment"]["spec"]["strategy"]["type"] == "Recreate"
    assert "PersistentVolumeClaim" in one and "PodDisruptionBudget" not in one
    many = kinds(render("replicas=3", "database.existingSecret=podium-pg"))
    spec = many["Deployment"]["spec"]
    assert spec["replicas"] == 3 and spec["strategy"]["type"] == "RollingUpdate"
    assert "PersistentVolumeClaim" not in many and "PodDisruptionBudget" in many
    env = {e["name"]: e for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert env["PODIUM_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "podium-pg", "key": "url"}
    refused = helm("template", "podium", str(CHART), "--set", "replicas=2")
    assert refused.returncode != 0 and "needs PostgreSQL" in refused.stderr


def test_values_that_cannot_work_are_refused() -> None:
    for bad in ("storage.mode=nfs", "runners.nodePurpose=always", "replicas=0",
                "dashboardOrigin=dashboards.example.org", "storagge.mode=static"):  # fmt: skip
        done = helm("template", "podium", str(CHART), "--set", bad)
        assert done.returncode != 0, bad
    # Dashboards on origins of their own send people to the hub to sign in: its URL.
    done = helm(
        "template", "podium", str(CHART), "--set", "dashboardOrigin=https://{dashboard}.x.net"
    )
    assert done.returncode != 0 and "publicUrl" in done.stderr
    for bad in (
        '{"Team":{"claim":"c"}}',
        '{"team":{"subPath":"x"}}',
        '{"t":{"claim":"c","sub_path":"x"}}',
    ):
        done = helm("template", "podium", str(CHART), "--set-json", f"storage.sharedVolumes={bad}")
        assert done.returncode != 0, bad


def test_tokens_come_from_the_hubs_secret_never_from_values() -> None:
    pod = kinds(render("hub.serviceName=dash"))["Deployment"]["spec"]["template"]
    env = {
        e["name"]: e.get("valueFrom", {}).get("secretKeyRef")
        for e in pod["spec"]["containers"][0]["env"]
    }
    assert env["PODIUM_HUB_TOKEN"] == {"name": "hub", "key": "hub.services.dash.apiToken"}
    assert env["CONFIGPROXY_AUTH_TOKEN"] == {
        "name": "hub",
        "key": "hub.config.ConfigurableHTTPProxy.auth_token",
    }
    labels = pod["metadata"]["labels"]
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    assert labels["hub.jupyter.org/network-access-proxy-api"] == "true"


def test_the_cookie_secret_may_be_the_admins_for_gitops() -> None:
    """Made once by the chart; with cookieSecret.existingSecret (a render by `helm
    template` cannot look it up) the admin's, and the chart makes none."""
    made = kinds(render())
    assert made["Secret"]["metadata"]["name"] == "podium"
    docs = kinds(render("cookieSecret.existingSecret=mine", "cookieSecret.key=k"))
    assert "Secret" not in docs
    (volume,) = [v for v in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == "secret"]  # fmt: skip
    assert volume["secret"]["secretName"] == "mine"
    assert volume["secret"]["items"][0]["key"] == "k"


def test_the_key_for_dashboards_secrets_comes_from_a_secret() -> None:
    """Without a key creators cannot give dashboards secrets; with the chart it is read
    from the admin's Secret, never a value or the ConfigMap."""
    docs = kinds(render("crypt.existingSecret=podium-crypt"))
    (env,) = [e for e in docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
              if e["name"] == "PODIUM_CRYPT_KEY"]  # fmt: skip
    assert env["valueFrom"]["secretKeyRef"] == {"name": "podium-crypt", "key": "key"}
    assert "PODIUM_CRYPT_KEY" not in json.dumps(kinds(render())["Deployment"])


def test_the_charts_role_is_exactly_what_the_launcher_uses() -> None:
    role = kinds(render())["Role"]
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert granted == used_grants()


def test_the_rendered_configuration_is_one_the_gateway_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = '[{"name":"gpu","extra_resource_limits":{"nvidia.com/gpu":"1"}}]'
    shared = '{"team":{"claim":"jupyterhub-shared","subPath":"team"}}'
    scipy = '[{"name":"scipy","image":"quay.io/jupyter/scipy-notebook:2024-05-27"}]'
    docs = render("storage.mode=static", "storage.slugScheme=escape",
                  "requirements.cacheClaim=podium-layers",
                  f"json:storage.sharedVolumes={shared}", f"json:environments={scipy}",
                  "dashboardOrigin=https://{dashboard}.dash.example.org",
                  "publicUrl=https://hub.example.org", f"json:profiles={profiles}",
                  "extraConfig=c.Podium.public_enabled = True")  # fmt: skip
    for name, text in kinds(docs)["ConfigMap"]["data"].items():
        (tmp_path / name).write_text(text)
    monkeypatch.setenv("PODIUM_HUB_TOKEN", "t" * 32)
    monkeypatch.setenv("CONFIGPROXY_AUTH_TOKEN", "p" * 32)
    monkeypatch.setenv("POD_NAMESPACE", "jhub")
    podium = Podium()
    podium.load_config_file(str(tmp_path / "podium_config.py"))
    assert podium.public_enabled is True  # extraConfig, applied last
    assert podium.launcher == "kubernetes" and podium.client_id == "service-podium"
    assert podium.origins().isolated and podium.proxy_target == "http://podium:8765"
    launcher = PodLauncher("/dashboards/", [], [], [], config=podium.config)
    assert (launcher.storage, launcher.slug_scheme, launcher.namespace) == (
        "static",
        "escape",
        "jhub",
    )
    # The route the gateway keeps is the one the docs' hub snippet adds (c.Proxy.extra_routes,
    # which the hub re-adds at every check): the same target, or they would take turns.
    docs_text = (ROOT / "docs" / "kubernetes.md").read_text()
    assert f'c.Proxy.extra_routes = {{"/dashboards/": "{podium.proxy_target}"}}' in docs_text
    assert launcher.image == "quay.io/podium/runner:0.1.0"
    assert launcher.profile("gpu").extra_resource_limits == {"nvidia.com/gpu": "1"}
    assert launcher.shared_volumes == {"team": {"claim": "jupyterhub-shared", "sub_path": "team"}}
    assert podium.rules().shared_volumes == ("team",)
    assert podium.rules().environments == ("scipy",)
    assert launcher.layers_claim == "podium-layers" and podium.requirements_policy() is not None
    (scipy_env,) = podium.environment_list()
    assert (scipy_env.image, scipy_env.python) == ("quay.io/jupyter/scipy-notebook:2024-05-27",
                                                   "python3")  # fmt: skip
    assert launcher.gateway_labels == {"app.kubernetes.io/name": "podium",
                                       "app.kubernetes.io/component": "gateway"}  # fmt: skip
    values = json.loads((tmp_path / "values.json").read_text())
    assert values["storage"]["mode"] == "static"


def test_the_raw_manifests_grant_what_the_chart_grants() -> None:
    """deploy/kubernetes/ stays for those without helm: the same Role."""
    raw = [d for d in yaml.safe_load_all((ROOT / "deploy/kubernetes/rbac.yaml").read_text()) if d]
    chart = kinds(render())["Role"]["rules"]
    assert next(d for d in raw if d["kind"] == "Role")["rules"] == chart


def test_the_images_are_named_in_one_place() -> None:
    """The registry and tag the release workflow pushes to are the chart's; every other
    mention (the launcher's default, the raw manifests) says the same."""
    from gateway.launchers.kube.options import KubeLauncher
    from runners import __version__

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    registry = values["image"]["registry"]
    gateway = f"{registry}/{values['image']['repository']}:{__version__}"
    runner = f"{registry}/{values['runnerImage']['repository']}:{__version__}"
    assert KubeLauncher.class_traits()["image"].default() == runner
    raw = (ROOT / "deploy/kubernetes/gateway.yaml").read_text()
    assert f"image: {gateway}" in raw and f'c.KubeLauncher.image = "{runner}"' in raw
    workflow = (ROOT / ".github/workflows/images.yml").read_text()
    assert "deploy/helm/podium/values.yaml" in workflow  # where it reads them


def test_an_ingress_takes_the_dashboards_hosts_and_paths_past_the_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every dashboard's origin and the shareable links on the hub's host go straight to
    the gateway, which then keeps no route in configurable-http-proxy (none to fight)."""
    docs = kinds(render(*INGRESS))
    rules = {r["host"]: r["http"]["paths"][0]["path"] for r in docs["Ingress"]["spec"]["rules"]}
    assert rules == {"hub.example.org": "/dashboards/", "*.dash.example.org": "/"}
    for name, text in docs["ConfigMap"]["data"].items():
        (tmp_path / name).write_text(text)
    for variable in ("PODIUM_HUB_TOKEN", "POD_NAMESPACE"):
        monkeypatch.setenv(variable, "x" * 32)
    monkeypatch.delenv("CONFIGPROXY_AUTH_TOKEN", raising=False)
    podium = Podium()
    podium.load_config_file(str(tmp_path / "podium_config.py"))
    assert podium.proxy_api_url == ""  # the route keeper stays off
    # ... and the gateway gets neither the proxy's token (it rewrites any route) nor the
    # label that admits it to the proxy's API.
    pod = docs["Deployment"]["spec"]["template"]
    assert "CONFIGPROXY_AUTH_TOKEN" not in json.dumps(pod["spec"]["containers"])
    assert "hub.jupyter.org/network-access-proxy-api" not in pod["metadata"]["labels"]
    kept = kinds(render())["Deployment"]["spec"]["template"]
    assert kept["metadata"]["labels"]["hub.jupyter.org/network-access-proxy-api"] == "true"
    assert "Ingress" not in kinds(render())
    # One origin apart from the hub's: its host, routed; nothing to route: refused.
    one = kinds(render("ingress.enabled=true", "dashboardOrigin=https://dash.example.net",
                       "publicUrl=https://hub.example.org"))  # fmt: skip
    assert [r["host"] for r in one["Ingress"]["spec"]["rules"]] == ["dash.example.net"]
    for bad in (("dashboardOrigin=same-origin",), ("ingress.dashboardsPath=true", "publicUrl=")):
        sets = [a for s in ("ingress.enabled=true", *bad) for a in ("--set", s)]
        assert helm("template", "podium", str(CHART), *sets).returncode != 0, bad
