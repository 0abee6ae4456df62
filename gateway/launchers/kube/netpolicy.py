"""The runners' NetworkPolicy: in from the gateway only; out to DNS and the public
internet, as Zero to JupyterHub's singleuser policy lets user pods out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.launchers.kube.manifests import MANAGED, NETWORK_POLICY, RUNNER

PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
METADATA = "169.254.169.254/32"  # the cloud's metadata server: node credentials


def make_network_policy(
    namespace: str,
    gateway_labels: Mapping[str, str],
    port: int = 8888,
    *,
    private_ips: bool = False,
) -> dict[str, Any]:
    """Runner pods take connections from the gateway's pods only, on the runner port; they
    reach DNS and the public internet (git, package indexes, APIs), not the cloud's metadata
    server nor — unless ``private_ips`` — private addresses: Zero to JupyterHub's own rules
    for user pods (singleuser.networkPolicy)."""
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    everywhere = {"cidr": "0.0.0.0/0", "except": [*PRIVATE, METADATA]}
    egress: list[dict[str, Any]] = [
        {
            "ports": dns_ports,
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    }
                },
                *({"ipBlock": {"cidr": cidr}} for cidr in (*PRIVATE, METADATA)),
            ],
        },
        {"to": [{"ipBlock": everywhere}]},
    ]
    if private_ips:
        egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in PRIVATE]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": NETWORK_POLICY, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {
            "podSelector": {"matchLabels": dict(RUNNER)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": dict(gateway_labels)}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
            "egress": egress,
        },
    }
