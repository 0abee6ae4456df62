"""Podium's pods in a Zero to JupyterHub namespace, under the chart's own NetworkPolicies
(rendered by helm from its default values: tests/kube/z2jh/policies.yaml) and the runners'
policy Podium makes: who may open a connection to whom, evaluated as Kubernetes does
(tests/kubesim/netpol.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.launchers.kube.manifests import RUNNER, Storage, make_pod
from gateway.launchers.kube.netpolicy import make_network_policy
from tests.kubesim.netpol import Endpoint, allowed
from tests.support.kubestack import plan

pytestmark = pytest.mark.unit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def z2jh() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    docs = [d for d in yaml.safe_load_all((HERE / "z2jh" / "policies.yaml").read_text()) if d]
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Pod"}
    return [d for d in docs if d["kind"] == "NetworkPolicy"], pods


def gateway_pod() -> dict[str, Any]:
    """The pod the shipped Deployment makes (deploy/kubernetes/gateway.yaml)."""
    docs = yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "gateway.yaml").read_text())
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    return dict(deployment["spec"]["template"])


GATEWAY_LABELS = {"app.kubernetes.io/name": "podium", "app.kubernetes.io/component": "gateway"}


def cluster(
    gateway: dict[str, Any] | None = None, private_ips: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Endpoint]]:
    policies, pods = z2jh()
    runner = make_pod(plan(Storage("git"), namespace="jhub"))
    policies.append(make_network_policy("jhub", GATEWAY_LABELS, private_ips=private_ips))
    user = {"metadata": {"labels": {"component": "singleuser-server", "app": "jupyterhub",
                                    "release": "jhub", "hub.jupyter.org/network-access-hub": "true"}},
            "spec": {"containers": [{"ports": [{"name": "notebook-port", "containerPort": 8888}]}]}}  # fmt: skip
    where = {
        "hub": Endpoint.of(pods["hub"], "10.1.0.2"),
        "proxy": Endpoint.of(pods["proxy"], "10.1.0.3"),
        "gateway": Endpoint.of(gateway or gateway_pod(), "10.1.0.4"),
        "runner": Endpoint.of(runner, "10.1.0.5"),
        "user": Endpoint.of(user, "10.1.0.6"),
        "dns": Endpoint(
            {"k8s-app": "kube-dns"},
            "10.96.0.10",
            "kube-system",
            {"kubernetes.io/metadata.name": "kube-system"},
        ),
        "internet": Endpoint({}, "151.101.1.69", "outside"),
        "metadata": Endpoint({}, "169.254.169.254", "outside"),
        "database": Endpoint({}, "10.20.0.7", "outside"),
    }
    return policies, where


def test_the_gateway_reaches_the_hubs_api_and_the_proxys() -> None:
    policies, at = cluster()
    assert allowed(policies, at["gateway"], at["hub"], "http")  # OAuth, users, groups
    assert allowed(policies, at["gateway"], at["proxy"], "api")  # the route to the gateway
    assert allowed(policies, at["proxy"], at["gateway"], "http")  # viewers, through the proxy
    assert allowed(policies, at["hub"], at["gateway"], "http")  # the hub's service checks


def test_without_the_labels_the_charts_policies_shut_the_gateway_out() -> None:
    """What the shipped Deployment had before: the test can fail."""
    bare = gateway_pod()
    bare["metadata"] = {"labels": dict(GATEWAY_LABELS)}
    policies, at = cluster(bare)
    assert not allowed(policies, at["gateway"], at["hub"], "http")
    assert not allowed(policies, at["gateway"], at["proxy"], "api")


def test_runner_pods_take_connections_from_the_gateway_only() -> None:
    policies, at = cluster()
    assert RUNNER.items() <= at["runner"].labels.items()
    assert allowed(policies, at["gateway"], at["runner"], 8888)
    for other in ("hub", "proxy", "user"):
        assert not allowed(policies, at[other], at["runner"], 8888), other


def test_runner_pods_reach_dns_and_the_internet_not_metadata_or_private_addresses() -> None:
    policies, at = cluster()
    runner = at["runner"]
    assert allowed(policies, runner, at["dns"], 53, "UDP")
    assert allowed(policies, runner, at["internet"], 443)
    assert not allowed(policies, runner, at["metadata"], 80)  # node credentials
    assert not allowed(policies, runner, at["database"], 5432)
    assert not allowed(policies, runner, at["hub"], "http")
    policies, at = cluster(private_ips=True)  # c.KubeLauncher.egress_private_ips
    assert allowed(policies, at["runner"], at["database"], 5432)
    assert not allowed(policies, at["runner"], at["metadata"], 80)


def chart(*settings: str) -> tuple[list[dict[str, Any]], dict[str, Endpoint]]:
    """The Z2JH namespace with the chart's gateway (rendered by helm with ``--set``
    ``settings``) and its NetworkPolicy; an ingress controller and the Kubernetes API."""
    import subprocess

    helm = ROOT / ".tools" / "helm" / "helm"
    if not helm.exists():
        pytest.fail("no helm: run scripts/setup (it unpacks helm into .tools/)")
    sets = [arg for setting in settings for arg in ("--set", setting)]
    out = subprocess.run(
        [str(helm), "template", "podium", str(ROOT / "deploy/helm/podium"), "--namespace", "jhub",
         *sets],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(out) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    policies, at = cluster(dict(deployment["spec"]["template"]))
    policies += [d for d in docs if d["kind"] == "NetworkPolicy"]
    at["controller"] = Endpoint({"app.kubernetes.io/name": "ingress-nginx"}, "10.1.0.9",
                                "ingress-nginx", {"kubernetes.io/metadata.name": "ingress-nginx"})  # fmt: skip
    at["api"] = Endpoint({}, "10.96.0.1", "outside")
    at["public api"] = Endpoint({}, "34.118.224.1", "outside")  # a managed cluster's
    return policies, at


def test_the_charts_gateway_reaches_the_hub_and_the_proxy_too() -> None:
    policies, at = chart()
    assert any(p["metadata"]["name"] == "podium-gateway" for p in policies)
    assert allowed(policies, at["gateway"], at["hub"], "http")
    assert allowed(policies, at["gateway"], at["proxy"], "api")
    assert allowed(policies, at["gateway"], at["runner"], 8888)


def test_the_charts_policy_lets_the_gateway_do_its_work_and_no_more() -> None:
    policies, at = chart()
    gateway = at["gateway"]
    for peer, port in (("dns", 53), ("database", 5432), ("api", 443), ("public api", 443)):
        assert allowed(policies, gateway, at[peer], port, "UDP" if port == 53 else "TCP"), peer
    assert not allowed(policies, gateway, at["metadata"], 80)  # the node's credentials
    for peer in ("proxy", "hub", "controller"):  # viewers, the service check, an Ingress
        assert allowed(policies, at[peer], gateway, "http"), peer
    assert not allowed(policies, at["proxy"], gateway, 9000)  # its port only

    policies, at = chart("networkPolicy.egressAllowRules.nonPrivateIPs=false",
                         "networkPolicy.ingressFrom[0].podSelector.matchLabels.component=proxy")  # fmt: skip
    assert not allowed(policies, at["gateway"], at["public api"], 443)
    assert allowed(policies, at["gateway"], at["api"], 443)
    assert allowed(policies, at["proxy"], at["gateway"], "http")
    assert not allowed(policies, at["user"], at["gateway"], "http")

    policies, at = chart("networkPolicy.enabled=false")
    assert not any(p["metadata"]["name"] == "podium-gateway" for p in policies)
    assert allowed(policies, at["gateway"], at["metadata"], 80)  # the control: no policy


def test_the_raw_manifests_carry_the_charts_gateway_policy() -> None:
    """deploy/kubernetes/ (for those without helm) has the chart's default policy."""
    raw = yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "gateway.yaml").read_text())
    mine = next(d for d in raw if d and d["kind"] == "NetworkPolicy")
    policies, _ = chart()
    charts = next(p for p in policies if p["metadata"]["name"] == "podium-gateway")
    assert mine["spec"] == charts["spec"]
