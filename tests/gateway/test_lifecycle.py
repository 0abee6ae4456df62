"""The lifecycle when its launcher misbehaves: a start never ends stuck in 'starting'.

The launcher here is scripted (the real ones are tested against real processes and the
simulated cluster): it answers ``inspect`` with what each test lists, errors included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.domain.dashboards import Dashboard
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.runtime import Runtime
from gateway.domain.store import Store
from gateway.launchers.base import Launcher, LauncherError, Observed, refused

pytestmark = pytest.mark.functional


class Scripted(Launcher):
    def __init__(self, answers: list[Observed | Exception]) -> None:
        super().__init__()
        self.answers = answers
        self.launches = 0

    async def start(self, dashboard: Dashboard, launch_id: str, credential: str) -> Runtime:
        self.launches += 1
        return Runtime(launch_id, "127.0.0.1", 9, time.time())

    async def inspect(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def stop(self, dashboard: Dashboard, runtime: Runtime) -> None:
        return None


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/podium.sqlite")
    await s.open()
    await s.create(Dashboard("alice", "sales", "streamlit", entry="app.py"))
    yield s
    await s.close()


async def started(store: Store, answers: list[Observed | Exception]) -> Dashboard:
    lifecycle = Lifecycle(store, Scripted(answers), b"s" * 32, ready_timeout=30)
    dashboard = await store.get("alice", "sales")
    await asyncio.wait_for(lifecycle.start(dashboard), 30)
    return await store.get("alice", "sales")


async def test_a_busy_launcher_is_asked_again(store: Store) -> None:
    busy = LauncherError("the Kubernetes API did not answer in time (read pod)")
    d = await started(store, [busy, busy, Observed(running=True, ready=True)])
    assert d.status == "ready"


async def test_an_unexpected_error_fails_the_start(store: Store) -> None:
    d = await started(store, [RuntimeError("boom")])
    assert (d.status, d.message) == ("failed", "the start failed unexpectedly (boom)")


async def test_the_launchers_reason_reaches_the_owner(store: Store) -> None:
    gone = Observed(running=False, message="the runner image cannot be pulled (ErrImagePull)")
    d = await started(store, [gone])
    assert (d.status, d.message) == ("failed", gone.message)


async def test_a_refused_spec_is_a_failure_no_visit_retries(store: Store) -> None:
    """The runner refused its launch spec: the same spec fails the same way, so a visit
    never starts it again (no retry loop); its owner's explicit start does."""
    launcher = Scripted([refused("spec.prefix must look like /a/b/")])
    lifecycle = Lifecycle(store, launcher, b"s" * 32, ready_timeout=30)
    await lifecycle.start(await store.get("alice", "sales"))
    d = await store.get("alice", "sales")
    assert (d.status, d.message) == (
        "failed", "the launch spec was refused: spec.prefix must look like /a/b/"
    )  # fmt: skip
    record = await store.runtime("alice", "sales")
    assert not replace(record, retry_at=time.time() - 1).may_retry()
    await lifecycle.start(d)  # the owner's start (API, manage page) tries again
    assert launcher.launches == 2
    await lifecycle.close()


READY, DEAD = Observed(running=True, ready=True), Observed(running=False)


async def settled(store: Store, launcher: Scripted, launches: int) -> Dashboard:
    for _ in range(300):
        d = await store.get("alice", "sales")
        if d.status == "ready" and launcher.launches == launches:
            return d
        await asyncio.sleep(0.01)
    raise AssertionError(f"{d.status} after {launcher.launches} launches")


async def test_a_runner_that_dies_is_started_again_at_once_then_with_backoff(
    store: Store,
) -> None:
    launcher = Scripted([READY])
    lifecycle = Lifecycle(store, launcher, b"s" * 32, restart_after=60)
    await lifecycle.start(await store.get("alice", "sales"))
    launcher.answers = [DEAD, READY]  # the front door could not reach it: it is dead
    lifecycle.suspect(("alice", "sales"))
    await settled(store, launcher, 2)  # started again, no viewer needed
    launcher.answers = [DEAD]  # dead again soon after that start: a failure in a row
    await lifecycle.check()
    d = await store.get("alice", "sales")
    record = await store.runtime("alice", "sales")
    assert (d.status, d.message) == ("failed", "the dashboard stopped unexpectedly")
    assert record.failures == 2 and record.retry_at is not None
    assert 8 < record.retry_at - time.time() <= 10
    assert launcher.launches == 2
    await lifecycle.close()


async def test_a_runner_that_ran_a_while_is_started_again_every_time(store: Store) -> None:
    launcher = Scripted([READY])
    lifecycle = Lifecycle(store, launcher, b"s" * 32, restart_after=0)
    await lifecycle.start(await store.get("alice", "sales"))
    for launches in (2, 3):
        launcher.answers = [DEAD, READY]
        await lifecycle.check()
        d = await settled(store, launcher, launches)
    assert d.message == ""
    await lifecycle.close()


async def test_a_start_is_known_before_its_first_write(store: Store) -> None:
    """The front door holds requests for a dashboard being started here even before the
    store says "starting" (the start may be waiting for the hub or the database)."""
    asked = asyncio.Event()

    async def slow_hub(owner: str) -> bool:
        asked.set()
        await asyncio.sleep(0.3)
        return True

    lifecycle = Lifecycle(store, Scripted([READY]), b"s" * 32, owner_exists=slow_hub)
    assert not lifecycle.is_starting(("alice", "sales"))
    start = lifecycle.start(await store.get("alice", "sales"))
    assert lifecycle.is_starting(("alice", "sales"))
    await asked.wait()
    assert (await store.get("alice", "sales")).status == "starting"
    await start
    assert not lifecycle.is_starting(("alice", "sales"))
    assert (await store.get("alice", "sales")).status == "ready"
    await lifecycle.close()


class Counting(Store):
    """The store, counting the reads of one dashboard."""

    reads = 0

    async def get(self, owner: str, name: str) -> Dashboard:
        self.reads += 1
        await asyncio.sleep(0.05)  # a busy database
        return await super().get(owner, name)


async def test_an_expired_entry_is_read_once_not_by_every_request(tmp_path: Path) -> None:
    store = Counting(f"sqlite:///{tmp_path}/podium.sqlite")
    await store.open()
    await store.create(Dashboard("alice", "sales", "streamlit", entry="app.py"))
    lifecycle = Lifecycle(store, Scripted([]), b"s" * 32, cache_seconds=0.2)
    try:
        found = await asyncio.gather(*(lifecycle.reads.lookup("alice", "sales") for _ in range(50)))
        assert store.reads == 1 and all(d.name == "sales" for d, _ in found)
        # Just past its time, the entry is still answered (no await), and refreshed once.
        await asyncio.sleep(0.25)
        assert all(lifecycle.reads.cached("alice", "sales") is not None for _ in range(50))
        await asyncio.sleep(0.1)
        assert store.reads == 2
        # Long past its time, it is not answered: the caller reads (once for all).
        await asyncio.sleep(0.5)
        assert lifecycle.reads.cached("alice", "sales") is None
        # A change made meanwhile wins over a read that began before it.
        reading = asyncio.ensure_future(lifecycle.reads.lookup("alice", "sales"))
        await asyncio.sleep(0.01)
        lifecycle.reads.forget(("alice", "sales"))
        await reading
        assert lifecycle.reads.cached("alice", "sales") is None, "the older read was not kept"
    finally:
        await store.close()
