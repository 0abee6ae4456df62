"""Who may see, manage and create dashboards: pure decisions, tested by table.

Every path that shows a dashboard (the proxy, the API, the gallery, the
progress page) asks :func:`can_view`; nothing else decides access.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from gateway.domain.dashboards import Dashboard


@dataclass(frozen=True)
class User:
    """A hub user as the gateway knows them; groups come from the hub."""

    name: str
    admin: bool = False
    groups: frozenset[str] = field(default_factory=frozenset)


def can_view(user: User | None, dashboard: Dashboard, *, public_enabled: bool) -> bool:
    """Whether ``user`` (``None``: not signed in) may open ``dashboard``."""
    mode = dashboard.access.mode
    if mode == "public" and public_enabled:
        return True
    if user is None:
        return False
    if user.admin or user.name == dashboard.owner:
        return True
    if mode in ("authenticated", "public"):
        # A public dashboard whose admin switched public access off still serves hub users.
        return True
    if mode == "restricted":
        return user.name in dashboard.access.users or bool(
            user.groups.intersection(dashboard.access.groups)
        )
    return False


def can_manage(user: User | None, dashboard: Dashboard) -> bool:
    """Start, stop, edit, delete, read logs: the owner and admins."""
    return user is not None and (user.admin or user.name == dashboard.owner)


def can_create(user: User | None, creator_groups: Collection[str]) -> bool:
    """Every signed-in user, unless the admin limited creating to some groups."""
    if user is None:
        return False
    if not creator_groups or user.admin:
        return True
    return bool(user.groups.intersection(creator_groups))
