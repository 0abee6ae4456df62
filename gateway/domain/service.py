"""What people do with dashboards: the one place the API and the pages both call.

Every change goes through here — create, change, remove, start, stop, restart —
so the REST API and the web form accept and refuse exactly the same things, and
each change writes the store, forgets what the read cache kept and asks the
lifecycle, in that order, in one place. Reading who may see or manage a
dashboard is here too. HTTP stays out: callers pass the user and the document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gateway.domain.access import User, can_create, can_manage, can_view
from gateway.domain.dashboards import Dashboard, Status
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.quotas import Quotas
from gateway.domain.readcache import ReadCache
from gateway.domain.shares import ShareLinks
from gateway.domain.store import Store
from gateway.domain.validation import Rules, parse_create, parse_patch, rebuild_needed
from gateway.errors import Forbidden, Invalid, NotFound, Unauthenticated
from gateway.launchers.base import Launcher
from runners.errors import SpecError
from runners.git import check_resolved_host, url_host
from runners.names import name_problem

RUNNING: tuple[Status, ...] = ("starting", "ready")


class DashboardService:
    def __init__(
        self,
        store: Store,
        lifecycle: Lifecycle,
        launcher: Launcher,
        quotas: Quotas,
        rules: Rules,
        *,
        creator_groups: list[str],
        hub_groups: Callable[[], Awaitable[set[str]]],
        links: ShareLinks | None = None,
    ) -> None:
        self.links = links
        self.store = store
        self.lifecycle = lifecycle
        self.launcher = launcher
        self.quotas = quotas
        self.rules = rules
        self.creator_groups = creator_groups
        self._hub_groups = hub_groups

    @property
    def reads(self) -> ReadCache:
        """Dashboards and their runtimes as the proxy reads them (cached for seconds)."""
        return self.lifecycle.reads

    # --- reading ----------------------------------------------------------------------
    async def visible(self, user: User | None, owner: str, name: str) -> Dashboard:
        """The dashboard, if ``user`` may see it; otherwise 404 (its existence stays private)."""
        dashboard = await self.store.get(owner, name)
        if not can_view(user, dashboard, public_enabled=self.rules.public_enabled):
            raise NotFound(f"there is no dashboard {owner}/{name}")
        return dashboard

    async def managed(self, user: User | None, owner: str, name: str) -> Dashboard:
        """The dashboard, if ``user`` may change it (its owner, an admin)."""
        user = signed_in(user)
        dashboard = await self.visible(user, owner, name)
        if not can_manage(user, dashboard):
            raise Forbidden(f"only {dashboard.owner} and admins may change this dashboard")
        return dashboard

    async def listed(
        self, user: User | None, *, owner: str | None = None, framework: str | None = None
    ) -> list[Dashboard]:
        """The dashboards ``user`` may see, of one owner or framework when given."""
        public = self.rules.public_enabled
        return [
            d
            for d in await self.store.list(owner=owner)
            if can_view(user, d, public_enabled=public)
            and (not framework or d.framework == framework)
        ]

    async def logs(self, dashboard: Dashboard, lines: int) -> list[str]:
        runtime = (await self.store.runtime(dashboard.owner, dashboard.name)).runtime
        return await self.launcher.logs(dashboard, runtime, lines)

    # --- changing ---------------------------------------------------------------------
    def check_can_create(self, user: User) -> None:
        if not can_create(user, self.creator_groups):
            raise Forbidden(
                f"creating dashboards is limited to members of: {', '.join(self.creator_groups)}"
            )
        problem = name_problem(user.name)
        if problem is not None:  # "." or "..": valid to older hubs, a path that climbs to us
            raise Forbidden(
                f"dashboards cannot be published as {user.name!r}: {problem}. "
                "A hub admin can rename the account."
            )

    async def create(self, user: User, doc: Any) -> Dashboard:
        """Validate and store a new dashboard of ``user``'s."""
        self.check_can_create(user)
        dashboard = parse_create(doc, user.name, self.rules, admin=user.admin)
        await self._check_groups(dashboard)
        await self._check_git_host(dashboard)
        if not user.admin:
            self.quotas.check_create(user.name, await self.store.list(owner=user.name))
        created = await self.store.create(dashboard)
        self.reads.forget(created.key)
        return created

    async def change(self, user: User, current: Dashboard, doc: Any) -> Dashboard:
        """Validate and store an edit; a running dashboard whose code changed is rebuilt."""
        changed = parse_patch(doc, current, self.rules, admin=user.admin)
        if changed.access.groups != current.access.groups:
            await self._check_groups(changed)
        if changed.source != current.source:
            await self._check_git_host(changed)
        await self.store.update(changed)
        self.reads.forget(changed.key)
        if rebuild_needed(current, changed) and current.status in RUNNING:
            # What runs changed: rebuild (a git source is fetched again, a clone made again).
            await self.lifecycle.restart(changed, rebuild=True)
        return changed

    async def remove(self, dashboard: Dashboard) -> None:
        """Stop it, drop what its launcher kept, then forget it."""
        await self.lifecycle.delete(dashboard)
        await self.store.delete(dashboard.owner, dashboard.name)
        if self.links is not None:  # its share links go with it
            await self.links.forget_dashboard(*dashboard.key)
        self.reads.forget(dashboard.key)

    async def start(self, dashboard: Dashboard, *, exempt: bool) -> Status:
        """Start it unless it runs or starts already (the owner's quotas unless ``exempt``);
        answer what it is now."""
        if dashboard.status in RUNNING:
            return dashboard.status
        if not exempt:
            self.quotas.check_start(dashboard.owner, await self.store.list(owner=dashboard.owner))
        self.lifecycle.start(dashboard)
        return "starting"

    async def wake(self, dashboard: Dashboard, *, exempt: bool) -> None:
        """A viewer opened it while it is not ready: start it, unless it failed and its next
        try is not due yet (or never will be: a permanent failure)."""
        if dashboard.status == "failed":
            if not (await self.store.runtime(*dashboard.key)).may_retry():
                return
        elif dashboard.status != "stopped":
            return
        await self.start(dashboard, exempt=exempt)

    async def owner_gone(self, owner: str) -> bool:
        """The owner's hub account is gone (their dashboards no longer start)."""
        return await self.lifecycle.owner_gone(owner)

    async def stop(self, dashboard: Dashboard) -> None:
        await self.lifecycle.stop(dashboard)

    async def restart(self, dashboard: Dashboard, *, rebuild: bool = False) -> None:
        """Stop and start again; a rebuild also fetches the source again."""
        await self.lifecycle.restart(dashboard, rebuild=rebuild)

    # --- checks against the world ----------------------------------------------------------
    async def _check_groups(self, dashboard: Dashboard) -> None:
        wanted = set(dashboard.access.groups)
        if not wanted:
            return
        unknown = sorted(wanted - await self._hub_groups())
        if unknown:
            raise Invalid(f"no such hub group: {', '.join(unknown)}", field="access.groups")

    async def _check_git_host(self, dashboard: Dashboard) -> None:
        """A git host must not resolve to an internal address (the runner checks again)."""
        if dashboard.source.type != "git":
            return
        try:
            await check_resolved_host(
                url_host(dashboard.source.url), self.rules.git_internal, strict=False
            )
        except SpecError as e:
            raise Invalid(e.message, field="source.url") from None


def signed_in(user: User | None) -> User:
    if user is None:
        raise Unauthenticated("log in through the hub, or send 'Authorization: token <hub token>'")
    return user
