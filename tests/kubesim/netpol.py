"""NetworkPolicy, evaluated as Kubernetes defines it (networking.k8s.io/v1).

A connection from one pod to another pod's port is allowed when both sides allow it: the
destination's ingress (no policy selects it for Ingress, or a rule of one that does admits
the source and the port) and the source's egress (likewise). Rules are ORed; a rule's
``from``/``to`` peers are ORed and ANDed with its ports; a missing list admits all, an empty
``podSelector`` selects every pod of the namespace; a named port is the destination
container's port of that name. Addresses for ``ipBlock`` are the pods' own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod as policies see it."""

    labels: dict[str, str]
    ip: str
    namespace: str = "jhub"
    namespace_labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # container port names -> numbers

    @classmethod
    def of(cls, pod: Object, ip: str, namespace: str = "jhub") -> Endpoint:
        ports = {p["name"]: int(p["containerPort"])
                 for c in pod["spec"]["containers"] for p in c.get("ports") or [] if p.get("name")}  # fmt: skip
        return cls(dict(pod["metadata"].get("labels") or {}), ip, namespace,
                   {"kubernetes.io/metadata.name": namespace}, ports)  # fmt: skip


def matches(selector: Object | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against labels."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _peer(peer: Object, other: Endpoint, namespace: str) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except") or []
        )
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != namespace:
        return False  # a podSelector alone: the policy's own namespace
    return "podSelector" not in peer or matches(peer["podSelector"], other.labels)


def _port(rule_ports: list[Object] | None, port: int, protocol: str, named: dict[str, int]) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        wanted = p.get("port")
        if wanted is None:
            return True
        number = named.get(wanted) if isinstance(wanted, str) else int(wanted)
        end = p.get("endPort", number)
        if number is not None and number <= port <= end:
            return True
    return False


def _side(policies: list[Object], pod: Endpoint, other: Endpoint, port: int, protocol: str,
          direction: str, named: dict[str, int]) -> bool:  # fmt: skip
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p for p in policies
        if p["metadata"].get("namespace", pod.namespace) == pod.namespace
        and matches(p["spec"]["podSelector"] or {}, pod.labels)
        and direction in p["spec"].get("policyTypes", ["Ingress"])
    ]  # fmt: skip
    if not selecting:
        return True
    namespace = pod.namespace
    return any(
        _port(rule.get("ports"), port, protocol, named)
        and (rule.get(peers) is None or any(_peer(x, other, namespace) for x in rule[peers]))
        for policy in selecting
        for rule in policy["spec"].get(key) or []
    )


def allowed(policies: list[Object], source: Endpoint, destination: Endpoint, port: int | str,
            protocol: str = "TCP") -> bool:  # fmt: skip
    """Whether ``source`` may open a connection to ``destination``'s ``port`` (a number, or
    the name of one of its container ports)."""
    number = destination.ports[port] if isinstance(port, str) else port
    return _side(
        policies, destination, source, number, protocol, "Ingress", destination.ports
    ) and _side(policies, source, destination, number, protocol, "Egress", destination.ports)
