"""One factory for the tests' real hub stacks: a module's ``stack`` fixture in one line.

``files`` seeds the users' storage before the stack starts: each key a path under
``home/`` (``"alice/app/bench.py"``), each value a file or folder under ``tests/apps/``
(``"custom/bench.py"``), copied whole.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.hubstack import ROOT, HubStack, hub_stack

APPS = ROOT / "tests" / "apps"


def seed(tmp: Path, files: Mapping[str, str]) -> None:
    """Copy test apps into the users' storage under ``tmp/home``."""
    for target, source in files.items():
        into, origin = tmp / "home" / target, APPS / source
        into.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, into)
        else:
            shutil.copy(origin, into)


def stack_fixture(
    name: str,
    *,
    files: Mapping[str, str] | None = None,
    podium: str = "",
    hub: str = "",
    users: tuple[str, ...] = (),
) -> Callable[..., Any]:
    """A module-scoped ``stack`` fixture: JupyterHub, configurable-http-proxy and Podium,
    with ``podium`` and ``hub`` added to their configurations; ``users`` get an empty
    storage folder."""

    @pytest_asyncio.fixture(scope="module", loop_scope="session")
    async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubStack]:
        tmp = tmp_path_factory.mktemp(name)
        for user in users:
            (tmp / "home" / user).mkdir(parents=True, exist_ok=True)
        seed(tmp, files or {})
        async with hub_stack(tmp, podium_extra=podium, hub_extra=hub) as s:
            yield s

    return stack
