"""Fixtures shared by the runner tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.support.harness import KEPT, STARTED


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def _stop_leftover_runners() -> AsyncIterator[None]:
    """A failing test must not leave its runner (and the framework under it) behind."""
    before = len(STARTED)
    yield
    for runner in STARTED[before:]:
        if runner.process.returncode is None and runner not in _module_scoped():
            runner.process.kill()
            await runner.process.wait()


def _module_scoped() -> list[object]:
    # Runners started by module-scoped fixtures outlive single tests on purpose.
    return list(KEPT)
