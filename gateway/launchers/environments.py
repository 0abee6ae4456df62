"""The Python environments the admin offers dashboards (``c.Podium.environments``), and
what a dashboard's requirements.txt may add on top (``c.Podium.requirements``).

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

from traitlets import Bool, Dict, Float, Integer, List, Unicode
from traitlets.config import Configurable

from gateway.errors import Misconfigured

NAME = re.compile(r"[a-z0-9](?:[a-z0-9_.-]{0,61}[a-z0-9])?")
FIELDS = {"name", "description", "python", "image", "image_pull_policy"}
PULL_POLICIES = ("", "Always", "IfNotPresent", "Never")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:@-]*[a-z0-9]", re.IGNORECASE)
_COMMAND = re.compile(r"[A-Za-z0-9._+-]+")  # an interpreter on the image's PATH


class EnvironmentProblem(ValueError):
    """An environment the admin described that cannot work (the gateway will not start)."""


@dataclass(frozen=True)
class Environment:
    name: str
    description: str = ""
    python: str = ""  # the interpreter: locally an absolute path; in an image, maybe a name
    image: str = ""  # Kubernetes: the image the app runs in (the runner is copied in)
    image_pull_policy: str = ""  # "": the runner image's

    @property
    def prefix(self) -> str:
        """The environment's folder (``<prefix>/bin/python``): what its app may read."""
        return str(Path(self.python).parent.parent)


def _one(doc: Any, where: str, launcher: str = "local") -> Environment:
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
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise EnvironmentProblem(f"{where} ({name}): description must be text")
    image, policy = doc.get("image", ""), doc.get("image_pull_policy", "")
    if launcher == "kubernetes":
        if not isinstance(image, str) or not _IMAGE.fullmatch(image):
            raise EnvironmentProblem(f"{where} ({name}): image must name a container image")
        if policy not in PULL_POLICIES:
            raise EnvironmentProblem(f"{where} ({name}): image_pull_policy must be one of "
                                     "Always, IfNotPresent, Never")  # fmt: skip
    python = doc.get("python", "python3" if launcher == "kubernetes" else "")
    absolute = isinstance(python, str) and python.startswith("/") and ".." not in python.split("/")
    if not absolute and not (launcher == "kubernetes" and isinstance(python, str)
                             and _COMMAND.fullmatch(python)):  # fmt: skip
        raise EnvironmentProblem(f"{where} ({name}): python must be an absolute path")
    return Environment(name, description, python, str(image), str(policy))


def conda_envs(root: str) -> list[Environment]:
    """Every conda env under ``root`` (a folder with ``bin/python``), by folder name."""
    found = []
    if root and os.path.isdir(root):
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            python = os.path.join(entry.path, "bin", "python")
            if entry.is_dir() and NAME.fullmatch(entry.name) and os.access(python, os.X_OK):
                found.append(Environment(entry.name, f"conda environment {entry.name}", python))
    return found


def offered(
    configured: Sequence[Any], conda_root: str = "", launcher: str = "local"
) -> list[Environment]:
    """The admin's environments, then the conda envs found, each name once."""
    environments = [_one(doc, f"c.Podium.environments[{i}]", launcher)
                    for i, doc in enumerate(configured)]  # fmt: skip
    names = [e.name for e in environments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EnvironmentProblem(f"c.Podium.environments: {', '.join(twice)} named twice")
    environments += [e for e in conda_envs(conda_root) if e.name not in names]
    return environments


def for_launcher(launcher: str, configured: Sequence[Any], conda_root: str) -> list[Environment]:
    """What ``c.Podium.environments`` and ``conda_envs_root`` offer with ``launcher``; an
    environment that cannot work is :class:`Misconfigured` (the gateway does not start)."""
    if launcher == "kubernetes" and conda_root:
        raise Misconfigured(
            "c.Podium.conda_envs_root: on Kubernetes an environment is an image "
            "(c.Podium.environments, with 'image')"
        )
    try:
        return offered(configured, conda_root, launcher)
    except EnvironmentProblem as e:
        raise Misconfigured(str(e)) from None


@dataclass(frozen=True)
class RequirementsPolicy:
    """The admin's word on requirements.txt (runners.layers installs it)."""

    pip_args: tuple[str, ...] = ()
    timeout: float = 600.0
    max_bytes: int = 2 * 2**30
    max_total: int = 8 * 2**30

    def spec(self, cache: str, rebuild: bool = False) -> dict[str, Any]:
        """The launch spec's ``requirements``: layers cached in ``cache``."""
        return {"cache": cache, "pip_args": list(self.pip_args), "timeout": self.timeout,
                "max_bytes": self.max_bytes, "rebuild": rebuild,
                "max_total": self.max_total}  # fmt: skip


class EnvironmentOptions(Configurable):
    """Podium's options for the software dashboards run with (``c.Podium.…``)."""

    environments = List(
        Dict(),
        help="Python environments creators may pick for a dashboard's app: dicts with "
        "'name', 'description' and, locally, 'python' (the interpreter of a venv or conda "
        "env, e.g. '/opt/envs/geo/bin/python'), on Kubernetes 'image' (any image with a "
        "Python 3, e.g. the hub's single-user image). The first is the default; none: "
        "every app runs in the runner's own environment.",
    ).tag(config=True)
    conda_envs_root = Unicode(
        help="A folder of conda environments (e.g. /opt/conda/envs): each one there is "
        "offered as an environment too, named by its folder."
    ).tag(config=True)
    requirements = Bool(
        True,
        help="Install a dashboard's requirements.txt (next to its entry) on top of its "
        "environment before the app starts, cached per owner by the file's content. "
        "On Kubernetes only where layers have a claim (c.KubeLauncher.layers_claim).",
    ).tag(config=True)
    pip_args = List(
        Unicode(),
        help="Options for pip when it installs a requirements.txt: the package index is "
        "yours, e.g. ['--index-url', 'https://pypi.example.org/simple'] or "
        "['--no-index', '--find-links', '/srv/wheels'].",
    ).tag(config=True)
    requirements_timeout = Float(
        600, help="Seconds pip may take to install a requirements.txt."
    ).tag(config=True)
    requirements_max_size = Integer(
        2048, help="Megabytes a requirements.txt's installed layer may take."
    ).tag(config=True)
    requirements_max_total = Integer(
        8192,
        help="Megabytes all of one owner's installed layers may take together (at least "
        "requirements_max_size, or Podium does not start): before an install, the "
        "owner's layers no running dashboard uses go, least recently used first, until "
        "the new one fits.",
    ).tag(config=True)

    def requirements_policy(self) -> RequirementsPolicy | None:
        if not self.requirements:
            return None
        most, total = self.requirements_max_size, self.requirements_max_total
        if not 0 < most <= total:
            raise Misconfigured(
                f"c.Podium.requirements_max_total ({total} MB) must be at least "
                f"c.Podium.requirements_max_size ({most} MB), and both above 0: one layer "
                "must fit in what an owner's layers may take together"
            )
        most, total = most * 2**20, total * 2**20
        return RequirementsPolicy(tuple(self.pip_args), self.requirements_timeout, most, total)
