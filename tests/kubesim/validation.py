"""What a real API server refuses that the OpenAPI schema lets through: the checks of its
own validation code for pods and claims (422 Invalid, with its field paths and words)."""

from __future__ import annotations

import re
from typing import Any

Object = dict[str, Any]

QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
          "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3, "": 1}  # fmt: skip


def quantity(text: str) -> float:
    """A quantity's value (``10Gi``, ``500m``, ``1.5``); ValueError when it is none."""
    match = QUANTITY.match(str(text))
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _quantities(where: str, values: Object, problems: list[str]) -> dict[str, float]:
    out = {}
    for name, value in (values or {}).items():
        try:
            out[name] = quantity(value)
        except ValueError:
            problems.append(f"{where}[{name}]: Invalid value: {value!r}: quantities must match "
                            "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")  # fmt: skip
    return out


def pod_problems(pod: Object) -> list[str]:
    spec = pod.get("spec") or {}
    problems: list[str] = []
    volumes = [v.get("name") for v in spec.get("volumes") or []]
    for i, name in enumerate(volumes):
        if name in volumes[:i]:
            problems.append(f'spec.volumes[{i}].name: Duplicate value: "{name}"')
    every = [("initContainers", c, x) for c, x in enumerate(spec.get("initContainers") or [])]
    every += [("containers", c, x) for c, x in enumerate(spec.get("containers") or [])]
    names = [x.get("name") for _, _, x in every]
    for i, (kind, c, container) in enumerate(every):
        here = f"spec.{kind}[{c}]"
        if container.get("name") in names[:i]:  # one namespace for init and app containers
            problems.append(f'{here}.name: Duplicate value: "{container.get("name")}"')
        for m, mount in enumerate(container.get("volumeMounts") or []):
            if mount.get("name") not in volumes:
                problems.append(f'{here}.volumeMounts[{m}].name: Not found: "{mount.get("name")}"')
            sub = mount.get("subPath", "")
            if sub.startswith("/") or ".." in sub.split("/"):
                problems.append(f"{here}.volumeMounts[{m}].subPath: Invalid value: "
                                f"\"{sub}\": must be a relative path not containing '..'")  # fmt: skip
        resources = container.get("resources") or {}
        requests = _quantities(f"{here}.resources.requests", resources.get("requests"), problems)
        limits = _quantities(f"{here}.resources.limits", resources.get("limits"), problems)
        for name, value in requests.items():
            if name in limits and value > limits[name]:
                problems.append(f"{here}.resources.requests: Invalid value: "
                                f"\"{resources['requests'][name]}\": must be less than or equal "
                                f"to {name} limit of {resources['limits'][name]}")  # fmt: skip
    return problems


def claim_problems(claim: Object) -> list[str]:
    problems: list[str] = []
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests")
    _quantities("spec.resources.requests", requests, problems)
    return problems
