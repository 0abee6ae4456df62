"""The Python environments the admin offers dashboards (``c.Podium.environments``).

Each has a name (the API's ``environment``), a description for the form and, per
launcher, where it lives: locally the interpreter of a venv or conda env (``python``).
Conda envs under ``c.Podium.conda_envs_root`` are offered too, named by their folder.
The first is the default; with none, every app runs in the runner's own environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import Misconfigured

NAME = re.compile(r"[a-z0-9](?:[a-z0-9_.-]{0,61}[a-z0-9])?")
FIELDS = {"name", "description", "python"}


class EnvironmentProblem(ValueError):
    """An environment the admin described that cannot work (the gateway will not start)."""


@dataclass(frozen=True)
class Environment:
    name: str
    description: str = ""
    python: str = ""  # the local launcher's interpreter

    @property
    def prefix(self) -> str:
        """The environment's folder (``<prefix>/bin/python``): what its app may read."""
        return str(Path(self.python).parent.parent)


def _one(doc: Any, where: str) -> Environment:
    if not isinstance(doc, Mapping):
        raise EnvironmentProblem(f"{where} must be a dict")
    unknown = sorted(set(doc) - FIELDS)
    if unknown:
        raise EnvironmentProblem(f"{where}: unknown keys {', '.join(unknown)}")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise EnvironmentProblem(
            f"{where}: {name!r} is no name for an environment (1 to 63 lowercase letters, "
            "digits, dots, dashes or underscores)"
        )
    python = doc.get("python", "")
    if not isinstance(python, str) or not python.startswith("/") or ".." in python.split("/"):
        raise EnvironmentProblem(f"{where} ({name}): python must be an absolute path")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise EnvironmentProblem(f"{where} ({name}): description must be text")
    return Environment(name, description, python)


def conda_envs(root: str) -> list[Environment]:
    """Every conda env under ``root`` (a folder with ``bin/python``), by folder name."""
    found = []
    if root and os.path.isdir(root):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            python = os.path.join(entry.path, "bin", "python")
            if entry.is_dir() and NAME.fullmatch(entry.name) and os.access(python, os.X_OK):
                found.append(Environment(entry.name, f"conda environment {entry.name}", python))
    return found


def offered(configured: Sequence[Any], conda_root: str = "") -> list[Environment]:
    """The admin's environments, then the conda envs found, each name once."""
    environments = [_one(doc, f"c.Podium.environments[{i}]") for i, doc in enumerate(configured)]
    names = [e.name for e in environments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EnvironmentProblem(f"c.Podium.environments: {', '.join(twice)} named twice")
    environments += [e for e in conda_envs(conda_root) if e.name not in names]
    return environments


def for_launcher(launcher: str, configured: Sequence[Any], conda_root: str) -> list[Environment]:
    """What ``c.Podium.environments`` and ``conda_envs_root`` offer with ``launcher``; an
    environment that cannot work is :class:`Misconfigured` (the gateway does not start)."""
    if launcher == "kubernetes" and (configured or conda_root):
        raise Misconfigured(
            "c.Podium.environments: environments are not yet offered on Kubernetes "
            "(every app runs in c.KubeLauncher.image)"
        )
    try:
        return offered(configured, conda_root)
    except EnvironmentProblem as e:
        raise Misconfigured(str(e)) from None
