"""Dashboards over time: start on demand, watch, stop when idle, fail with backoff, adopt.

Desired state (running/stopped) and the observed status live in the store;
the launcher is asked what is really running. One start at a time per
dashboard (a burst of viewers waking it starts one runner). Activity from the
proxy is kept in memory and written in batches. At gateway start every runner
still alive is adopted and none is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.domain.activity import Activity
from gateway.domain.dashboards import Dashboard, Desired, Key, Status
from gateway.domain.progress import Progress, progress
from gateway.domain.readcache import ReadCache
from gateway.domain.runtime import Runtime, RuntimeRecord
from gateway.domain.store import Store
from gateway.errors import Unavailable
from gateway.launchers.base import (
    Launcher,
    LauncherError,
    Observed,
    runner_credential,
)

log = logging.getLogger("podium.lifecycle")


OWNER_GONE = "its owner no longer has an account on the hub"


def backoff(failures: int) -> float:
    """Seconds before an automatic retry after ``failures`` failed starts in a row."""
    return float(min(300.0, 5.0 * 2 ** max(0, failures - 1)))


PREPARING = 60.0  # seconds for a runner to start and prepare its source (a git clone)


class Lifecycle:
    def __init__(
        self,
        store: Store,
        launcher: Launcher,
        secret: bytes,
        *,
        ready_timeout: float | None = None,
        check_interval: float = 5,
        activity_interval: float = 30,
        cache_seconds: float = 2,
        restart_after: float = 60,
        owner_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.launcher = launcher
        self.secret = secret
        # One ready timeout, the launcher's (the framework's own start, which the runner
        # enforces), plus the runner's start and the source's preparation before it.
        installing = launcher.requirements.timeout if launcher.requirements else 0.0
        self.ready_timeout = (
            ready_timeout
            if ready_timeout is not None
            else launcher.ready_timeout + PREPARING + installing
        )
        self.check_interval = check_interval
        self.activity_interval = activity_interval
        self.reads = ReadCache(store, cache_seconds)
        self.restart_after = restart_after
        self._owner_exists = owner_exists  # asks the hub (cached); None: never asked
        self._starts: dict[Key, asyncio.Task[None]] = {}
        self.activity = Activity(store)
        self._suspected: dict[Key, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.on_status: Callable[[Key, Status], None] = lambda key, status: None  # metrics

    async def _set(
        self,
        dashboard: Dashboard,
        *,
        status: Status | None = None,
        desired: Desired | None = None,
        message: str | None = None,
        runtime: RuntimeRecord | None = None,
    ) -> None:
        given = {"status": status, "desired": desired, "message": message}
        fields = {k: v for k, v in given.items() if v is not None}
        await self.store.set_state(dashboard.owner, dashboard.name, runtime=runtime, **fields)
        self.reads.forget(dashboard.key)
        if status is not None:
            self.on_status(dashboard.key, status)

    # --- starting and stopping -----------------------------------------------------------
    def start(self, dashboard: Dashboard) -> asyncio.Task[None]:
        """Start the dashboard unless a start is already under way; return that start."""
        task = self._starts.get(dashboard.key)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._launch(dashboard))
            self._starts[dashboard.key] = task
        return task

    def is_starting(self, key: Key) -> bool:
        """A start is under way here (its first write to the store may not have landed)."""
        task = self._starts.get(key)
        return task is not None and not task.done()

    async def _launch(self, dashboard: Dashboard) -> None:
        """Start, then follow the start until ready; never ends with the dashboard stuck
        in 'starting' (an unexpected error fails it, with backoff, like any failure)."""
        try:
            await self._start_and_follow(dashboard)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("starting %s/%s", *dashboard.key)
            runtime = (await self.store.runtime(*dashboard.key)).runtime
            await self._fail(dashboard, runtime, f"the start failed unexpectedly ({e})", 0)

    async def _start_and_follow(self, dashboard: Dashboard) -> None:
        failures = (await self.store.runtime(*dashboard.key)).failures
        launch_id = secrets.token_hex(8)
        await self._set(
            dashboard,
            status="starting",
            desired="running",
            message="starting",
            runtime=RuntimeRecord(),
        )
        if await self.owner_gone(dashboard.owner):  # asks the hub: after "starting" is known
            await self._set(dashboard, status="stopped", desired="stopped", message=OWNER_GONE)
            return
        try:
            # Shielded: a stop that cancels this start must still find the runner it launched.
            runtime = await asyncio.shield(self._start_and_record(dashboard, launch_id, failures))
        except LauncherError as e:
            await self._fail(dashboard, None, str(e), failures)
            return
        await self._until_ready(dashboard, runtime, failures)

    async def _until_ready(self, dashboard: Dashboard, runtime: Runtime, failures: int) -> None:
        """Follow a start (this gateway's, or one it adopted) to ready, failed, or too long."""
        deadline = time.monotonic() + self.ready_timeout
        within = 0.0
        while time.monotonic() < deadline:
            try:
                observed = await self.launcher.changed(dashboard, runtime, within)
            except LauncherError as e:  # e.g. a busy API server: look again
                log.warning("%s/%s: %s", *dashboard.key, e)
                await asyncio.sleep(1)
                continue
            if observed.ready:
                await self._ready(dashboard, runtime, observed)
                return
            if not observed.running:
                why = observed.message or "the dashboard could not start"
                await self._fail(dashboard, runtime, why, failures, permanent=observed.permanent)
                return
            await self._set_message(dashboard, observed.message)
            within = min(max(within * 1.5, 0.1), 1.0)
        await self.launcher.stop(dashboard, runtime)
        await self._fail(dashboard, runtime, "the dashboard took too long to start", failures)

    async def _ready(self, dashboard: Dashboard, runtime: Runtime, observed: Observed) -> None:
        """Ready: with the address the launcher learnt meanwhile (a pod's IP), if it did."""
        moved = None
        if observed.address and observed.address != (runtime.host, runtime.port):
            host, port = observed.address
            record = await self.store.runtime(*dashboard.key)
            moved = replace(record, runtime=replace(runtime, host=host, port=port))
        await self._set(dashboard, status="ready", message="", runtime=moved)
        log.info("%s/%s is ready", *dashboard.key)

    async def _start_and_record(
        self, dashboard: Dashboard, launch_id: str, failures: int
    ) -> Runtime:
        credential = runner_credential(self.secret, dashboard, launch_id)
        runtime = await self.launcher.start(dashboard, launch_id, credential)
        # The failures in a row so far stay with the launch: if it dies soon, they count.
        await self._set(dashboard, runtime=RuntimeRecord(runtime, failures=failures))
        return runtime

    async def _set_message(self, dashboard: Dashboard, message: str) -> None:
        cached = self.reads.cached(*dashboard.key)
        if cached is None or cached[0].message != message:
            await self._set(dashboard, message=message)

    async def _fail(
        self,
        dashboard: Dashboard,
        runtime: Runtime | None,
        message: str,
        failures: int,
        *,
        permanent: bool = False,
    ) -> None:
        """Failed: retried on a later visit after a backoff; a permanent failure (a refused
        launch spec) only when its owner or an admin starts it again."""
        failures += 1
        if runtime is not None:
            try:
                runtime = await self.launcher.release(dashboard, runtime)
            except LauncherError as e:  # its next start replaces what is left
                log.warning("%s/%s: cannot release the failed start: %s", *dashboard.key, e)
        record = RuntimeRecord(
            runtime, failures, retry_at=time.time() + backoff(failures), permanent=permanent
        )
        log.warning("%s/%s failed: %s", dashboard.owner, dashboard.name, message)
        await self._set(dashboard, status="failed", message=message, runtime=record)

    async def stop(
        self, dashboard: Dashboard, *, desired: Desired = "stopped", why: str = ""
    ) -> None:
        task = self._starts.pop(dashboard.key, None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        runtime = (await self.store.runtime(*dashboard.key)).runtime
        await self._set(dashboard, status="stopping", desired=desired, message="stopping")
        began = time.monotonic()
        if runtime is not None:
            try:
                await self.launcher.stop(dashboard, runtime)
            except LauncherError as e:
                # The runner may still run: say so, keep its record, and let the caller answer.
                await self._set(dashboard, status="failed", message=f"the stop failed: {e}")
                raise
        await self._set(dashboard, status="stopped", message=why, runtime=RuntimeRecord())
        log.info("%s/%s stopped (%.1f s) %s", *dashboard.key, time.monotonic() - began, why)

    async def restart(self, dashboard: Dashboard, *, rebuild: bool = False) -> asyncio.Task[None]:
        """Stop and start again; a rebuild also drops what the launcher kept (a clone)."""
        await self.stop(dashboard, desired="running")
        if rebuild:
            await self.launcher.discard(dashboard)
        return self.start(dashboard)

    async def delete(self, dashboard: Dashboard) -> None:
        """Stop the dashboard and drop everything the launcher kept for it."""
        await self.stop(dashboard)
        await self.launcher.discard(dashboard)

    def progress(self, dashboard: Dashboard) -> AsyncIterator[Progress]:
        """Status changes until the dashboard is ready, failed or stopped (the progress page)."""
        return progress(self.reads, dashboard)

    # --- watching, idle culling, adoption ----------------------------------------------
    async def check(self) -> None:
        """One pass: starts nobody follows followed, failed runners noticed, idle
        dashboards stopped."""
        now = datetime.now(UTC)
        for dashboard, record in await self.store.with_runtimes("starting"):
            task = self._starts.get(dashboard.key)
            runtime = record.runtime
            if runtime is not None and (task is None or task.done()):
                self._follow(dashboard, runtime)  # never left in "starting"
        for dashboard, record in await self.store.with_runtimes("ready"):  # one query
            if self.is_starting(dashboard.key):
                continue
            runtime = record.runtime
            if runtime is None:
                continue
            if await self.owner_gone(dashboard.owner):
                await self.stop(dashboard, why=OWNER_GONE)
                continue
            observed = await self.launcher.inspect(dashboard, runtime)
            if not observed.running:
                await self._died(dashboard, runtime, record)
                continue
            if self.activity.in_use(dashboard.key):
                self.activity.touch(dashboard.key)
            elif dashboard.idle_timeout > 0:
                last = await self.activity.last(dashboard, runtime)
                if now - last > timedelta(seconds=dashboard.idle_timeout):
                    log.info(
                        "%s/%s idle for %s s: stopping", *dashboard.key, dashboard.idle_timeout
                    )
                    await self.stop(dashboard)

    async def _died(self, dashboard: Dashboard, runtime: Runtime, record: RuntimeRecord) -> None:
        """A ready runner found dead (killed, out of memory, its node gone).

        One that had run ``restart_after`` seconds is started again at once: its viewers
        see a short restart, not an error until someone reopens it. One that dies sooner
        counts as another failed start in a row, retried with backoff (no storm)."""
        up = time.time() - runtime.started
        failures = record.failures if up < self.restart_after else 0
        if failures:
            await self._fail(dashboard, runtime, "the dashboard stopped unexpectedly", failures)
            return
        log.warning(
            "%s/%s stopped unexpectedly after %.0f s: starting it again", *dashboard.key, up
        )
        await self._set(
            dashboard, status="starting", message="starting again after an unexpected stop",
            runtime=RuntimeRecord(failures=1),
        )  # fmt: skip
        self.start(dashboard)

    async def owner_gone(self, owner: str) -> bool:
        """Whether the hub says the owner was deleted (not when the hub cannot be asked)."""
        if self._owner_exists is None:
            return False
        try:
            return not await self._owner_exists(owner)
        except Unavailable:
            return False

    def suspect(self, key: Key) -> None:
        """The front door could not reach this dashboard's runner: look now, not at the
        next check (one look per dashboard at a time)."""
        if key not in self._suspected:
            look = asyncio.ensure_future(self._look(key))
            self._suspected[key] = look
            look.add_done_callback(lambda _: self._suspected.pop(key, None))

    async def _look(self, key: Key) -> None:
        try:
            dashboard = await self.store.get(*key)
            record = await self.store.runtime(*key)
            runtime = record.runtime
            if dashboard.status != "ready" or runtime is None or self.is_starting(key):
                return
            if not (await self.launcher.inspect(dashboard, runtime)).running:
                await self._died(dashboard, runtime, record)
        except Exception:
            log.exception("looking at %s/%s", *key)

    async def adopt(self) -> None:
        """At gateway start: keep every live runner, mark the dead ones, kill none;
        runners whose dashboard was deleted meanwhile are removed."""
        dashboards = await self.store.list()
        await self.launcher.reconcile({d.key for d in dashboards})
        for dashboard in dashboards:
            record = await self.store.runtime(*dashboard.key)
            runtime = record.runtime
            if runtime is None:
                if dashboard.status in ("starting", "ready", "stopping"):
                    await self._set(dashboard, status="stopped", message="")
                continue
            observed = await self.launcher.inspect(dashboard, runtime)
            if observed.running:
                log.info("adopted %s/%s (launch %s)", *dashboard.key, runtime.launch_id)
                if not observed.ready:
                    self._follow(dashboard, runtime)
            elif dashboard.status == "ready":
                await self._died(dashboard, runtime, record)
            elif dashboard.status == "starting":
                await self._fail(
                    dashboard, runtime, "the dashboard stopped while the gateway was down", 0
                )

    def _follow(self, dashboard: Dashboard, runtime: Runtime) -> None:
        """Follow a start this gateway did not begin (adopted, or its follower lost)."""
        task = self._starts.get(dashboard.key)
        if task is None or task.done():
            self._starts[dashboard.key] = asyncio.get_running_loop().create_task(
                self._await_ready_or_fail(dashboard, runtime)
            )

    async def _await_ready_or_fail(self, dashboard: Dashboard, runtime: Runtime) -> None:
        try:
            await self._until_ready(dashboard, runtime, 0)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("following the start of %s/%s", *dashboard.key)
            await self._fail(dashboard, runtime, f"the start failed unexpectedly ({e})", 0)

    async def _loop(self, interval: float, step: str) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await (self.check() if step == "check" else self.activity.flush())
            except Exception:
                log.exception("lifecycle %s failed; trying again in %s s", step, interval)

    async def run(self) -> None:
        await self.adopt()
        self._tasks = [
            asyncio.get_running_loop().create_task(self._loop(self.check_interval, "check")),
            asyncio.get_running_loop().create_task(self._loop(self.activity_interval, "activity")),
        ]

    async def close(self) -> None:
        """Stop the background work; runners keep running (the next gateway adopts them)."""
        work = [*self._tasks, *self._starts.values(), *self._suspected.values()]
        for task in work:
            task.cancel()
        await asyncio.gather(*work, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.activity.flush()
