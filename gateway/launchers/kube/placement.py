"""Where a runner pod goes and what it may use: the admin's resource profiles (and the
quantities the API server takes), and Zero to JupyterHub's placement of user pods."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    """Resources and placement an admin offers; creators pick one by name."""

    name: str = "default"
    display_name: str = "Default"
    cpu_request: str = "100m"
    cpu_limit: str = "1"
    memory_request: str = "256Mi"
    memory_limit: str = "1Gi"
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    # Extended resources (``{"nvidia.com/gpu": "1"}``): limits, which Kubernetes also
    # takes as their requests.
    extra_resource_limits: Mapping[str, str] = field(default_factory=dict)

    def problem(self) -> str:
        """What the API server would refuse in these resources: a quantity that is none,
        a request over its limit."""
        amounts: dict[str, float] = {}
        for what, text in (("cpu_request", self.cpu_request), ("cpu_limit", self.cpu_limit),
                           ("memory_request", self.memory_request),
                           ("memory_limit", self.memory_limit),
                           *self.extra_resource_limits.items()):  # fmt: skip
            if text:
                try:
                    amounts[what] = quantity(text)
                except ValueError:
                    return f"{what} = {text!r} is not a Kubernetes quantity (like 500m, 2, 4Gi)"
        for kind in ("cpu", "memory"):
            request, limit = amounts.get(f"{kind}_request"), amounts.get(f"{kind}_limit")
            if request is not None and limit is not None and request > limit:
                return f"{kind}_request is more than {kind}_limit"
        return ""

    def resources(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        requests = {"cpu": self.cpu_request, "memory": self.memory_request}
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit,
                  **self.extra_resource_limits}  # fmt: skip
        if any(requests.values()):
            out["requests"] = {k: v for k, v in requests.items() if v}
        if any(limits.values()):
            out["limits"] = {k: v for k, v in limits.items() if v}
        return out


_QUANTITY = re.compile(r"([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|)")
_FACTORS: dict[str, float] = {
    **{unit: 2 ** (10 * (i + 1)) for i, unit in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
    **{unit: 10 ** (3 * (i + 1)) for i, unit in enumerate(("k", "M", "G", "T", "P", "E"))},
    "m": 1e-3,
    "": 1,
}


def quantity(text: str) -> float:
    """A Kubernetes quantity's amount (``500m``, ``2``, ``4Gi``); ValueError if none."""
    match = _QUANTITY.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(text)
    return float(match.group(1)) * _FACTORS[match.group(2)]


# Zero to JupyterHub's user pods tolerate its user nodes' taint (scheduling.userPods).
USER_TOLERATIONS = tuple(
    {"key": key, "operator": "Equal", "value": "user", "effect": "NoSchedule"}
    for key in ("hub.jupyter.org/dedicated", "hub.jupyter.org_dedicated")
)
NODE_PURPOSE = "hub.jupyter.org/node-purpose"


@dataclass(frozen=True)
class Placement:
    """Where a runner pod goes beyond its profile, and what the admin adds to it.

    ``node_purpose``: Z2JH's ``scheduling.userPods.nodeAffinity.matchNodePurpose`` —
    ``prefer`` (its default) or ``require`` user nodes (with the user nodes' tolerations),
    or ``ignore``. ``pod_config``: fields merged into the pod's spec last (an escape hatch).
    """

    node_purpose: str = "prefer"
    priority_class: str = ""
    scheduler: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod_config: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.node_purpose != "ignore":
            spec["tolerations"] = [*spec.get("tolerations", []),
                                   *(dict(t) for t in USER_TOLERATIONS)]  # fmt: skip
            term = {"matchExpressions": [
                {"key": NODE_PURPOSE, "operator": "In", "values": ["user"]}]}  # fmt: skip
            spec["affinity"] = {"nodeAffinity": (
                {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
                if self.node_purpose == "require"
                else {"preferredDuringSchedulingIgnoredDuringExecution":
                      [{"weight": 100, "preference": term}]}
            )}  # fmt: skip
        if self.priority_class:
            spec["priorityClassName"] = self.priority_class
        if self.scheduler:
            spec["schedulerName"] = self.scheduler
        return merged(spec, self.pod_config)


def merged(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``: dicts merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out
