"""The store: dashboards in SQLite (default) or PostgreSQL, behind SQLAlchemy 2 (async).

The schema is owned by Alembic migrations (``gateway/migrations``), applied at
start-up, so an upgrade never needs a manual step and never loses a dashboard.
Every write is one transaction. Integrity errors become :class:`Conflict`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gateway.domain.dashboards import Access, Dashboard, Source, Status, as_desired, as_status
from gateway.domain.runtime import RuntimeRecord
from gateway.domain.tables import dashboards, logouts, views
from gateway.errors import Conflict, NotFound, Unavailable

log = logging.getLogger("podium.store")
P = ParamSpec("P")
R = TypeVar("R")
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def async_url(url: str) -> str:
    """Accept the plain URLs admins write and pick the async driver."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything the store hands out is UTC-aware.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def to_dashboard(row: sa.Row[Any]) -> Dashboard:
    m = row._mapping
    src = m["source"]
    created, updated = _aware(m["created"]), _aware(m["updated"])
    assert created is not None and updated is not None
    return Dashboard(
        owner=m["owner"],
        name=m["name"],
        title=m["title"],
        description=m["description"],
        framework=m["framework"],
        source=Source(
            type=src.get("type", "storage"),
            path=src.get("path", ""),
            url=src.get("url", ""),
            ref=src.get("ref", ""),
            volume=src.get("volume", ""),
        ),
        entry=m["entry"],
        access=Access(m["access_mode"], tuple(m["access_users"]), tuple(m["access_groups"])),
        env=dict(m["env"]),
        secrets=dict(m["secrets"] or {}),
        command=tuple(m["command"] or ()),
        idle_timeout=m["idle_timeout"],
        profile=m["profile"],
        environment=m["environment"],
        desired=as_desired(m["desired"]),
        status=as_status(m["status"]),
        message=m["message"],
        created=created,
        updated=updated,
    )


def to_row(d: Dashboard) -> dict[str, Any]:
    return {
        "owner": d.owner,
        "name": d.name,
        "title": d.title,
        "description": d.description,
        "framework": d.framework,
        "source": d.source.as_json(),
        "entry": d.entry,
        "access_mode": d.access.mode,
        "access_users": list(d.access.users),
        "access_groups": list(d.access.groups),
        "env": dict(d.env),
        "secrets": dict(d.secrets),
        "command": list(d.command),
        "idle_timeout": d.idle_timeout,
        "profile": d.profile,
        "environment": d.environment,
        "desired": d.desired,
        "status": d.status,
        "message": d.message,
        "created": d.created,
        "updated": d.updated,
    }


def _upgrade(connection: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _key(owner: str, name: str) -> sa.ColumnElement[bool]:
    return sa.and_(dashboards.c.owner == owner, dashboards.c.name == name)


def translated(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The database unreachable, full or read-only becomes :class:`Unavailable` (503, with
    a message), not a 500: the caller may try again; nothing was half-written."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (OperationalError, InterfaceError) as e:
            reason = str(e.orig) if getattr(e, "orig", None) else type(e).__name__
            log.warning("the store failed: %s", reason)
            raise Unavailable(f"the dashboards database cannot be used right now ({reason})") from e

    return call


class Store:
    """Dashboard definitions and their recorded runtime state."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        sqlite = self.url.startswith("sqlite")
        # SQLite has one writer at a time: writes queue here (in order, without the lock
        # errors a burst of starts gives otherwise), and readers never wait for them (WAL).
        self._writes: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            echo=echo,
            pool_pre_ping=True,
            connect_args={"timeout": 30} if sqlite else {},
        )
        if sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def open(self) -> None:
        """Bring the schema up to date (idempotent; safe with several gateways starting).

        A SQLite file is made readable by the gateway's user only (it holds every
        dashboard's environment); SQLite gives its journal files the same mode."""
        path = self.engine.url.database if self.url.startswith("sqlite") else None
        if path and path != ":memory:":
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            os.chmod(path, 0o600)
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._writes is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writes, self.engine.begin() as conn:
            yield conn

    @translated
    async def create(self, dashboard: Dashboard) -> Dashboard:
        try:
            async with self.transaction() as conn:
                await conn.execute(sa.insert(dashboards).values(**to_row(dashboard), runtime={}))
        except IntegrityError:
            raise Conflict(
                f"you already have a dashboard named {dashboard.name!r}", field="name"
            ) from None
        return dashboard

    @translated
    async def get(self, owner: str, name: str) -> Dashboard:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(dashboards).where(_key(owner, name)))).first()
        if row is None:
            raise NotFound(f"there is no dashboard {owner}/{name}")
        return to_dashboard(row)

    @translated
    async def with_runtimes(self, status: Status) -> list[tuple[Dashboard, RuntimeRecord]]:
        """Every dashboard in ``status`` with its runtime record, in one query."""
        query = sa.select(dashboards).where(dashboards.c.status == status)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [(to_dashboard(r), RuntimeRecord.from_json(r._mapping["runtime"])) for r in rows]

    @translated
    async def statuses(self) -> dict[str, int]:
        """How many dashboards are in each status (one grouped query, for the metrics)."""
        query = sa.select(dashboards.c.status, sa.func.count()).group_by(dashboards.c.status)
        async with self.engine.connect() as conn:
            return {str(status): int(n) for status, n in await conn.execute(query)}

    @translated
    async def list(self, owner: str | None = None) -> list[Dashboard]:
        query = sa.select(dashboards).order_by(dashboards.c.owner, dashboards.c.name)
        if owner is not None:
            query = query.where(dashboards.c.owner == owner)
        async with self.engine.connect() as conn:
            return [to_dashboard(r) for r in await conn.execute(query)]

    @translated
    async def update(self, dashboard: Dashboard) -> Dashboard:
        values = to_row(dashboard)
        del values["created"]
        async with self.transaction() as conn:
            result = await conn.execute(
                sa.update(dashboards).where(_key(dashboard.owner, dashboard.name)).values(**values)
            )
        if result.rowcount == 0:
            raise NotFound(f"there is no dashboard {dashboard.owner}/{dashboard.name}")
        return dashboard

    @translated
    async def set_state(
        self, owner: str, name: str, *, runtime: RuntimeRecord | None = None, **fields: Any
    ) -> None:
        """Update status, message, desired, runtime or last_activity without touching the rest."""
        allowed = {"status", "message", "desired", "last_activity"}
        assert set(fields) <= allowed, set(fields) - allowed
        if runtime is not None:
            fields["runtime"] = runtime.as_json()
        async with self.transaction() as conn:
            await conn.execute(sa.update(dashboards).where(_key(owner, name)).values(**fields))

    @translated
    async def set_source(
        self, owner: str, name: str, source: dict[str, Any], secrets: dict[str, str]
    ) -> None:
        """Replace the source and secrets alone (gateway.domain.upgrades: the rest may be
        changing)."""
        async with self.transaction() as conn:
            await conn.execute(
                sa.update(dashboards)
                .where(_key(owner, name))
                .values(source=source, secrets=secrets)
            )

    @translated
    async def runtime(self, owner: str, name: str) -> RuntimeRecord:
        async with self.engine.connect() as conn:
            value = await conn.scalar(sa.select(dashboards.c.runtime).where(_key(owner, name)))
        return RuntimeRecord.from_json(value)

    @translated
    async def last_activity(self, owner: str, name: str) -> datetime | None:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                sa.select(dashboards.c.last_activity).where(_key(owner, name))
            )
        return _aware(value)

    @translated
    async def delete(self, owner: str, name: str) -> None:
        async with self.transaction() as conn:
            result = await conn.execute(sa.delete(dashboards).where(_key(owner, name)))
            await conn.execute(sa.delete(views).where(views.c.owner == owner, views.c.name == name))
        if result.rowcount == 0:
            raise NotFound(f"there is no dashboard {owner}/{name}")

    @translated
    async def record_activity(self, seen: Sequence[tuple[str, str, datetime]]) -> None:
        """Write a batch of last-activity times at once (the proxy collects them)."""
        if not seen:
            return
        async with self.transaction() as conn:
            for owner, name, when in seen:
                await conn.execute(
                    sa.update(dashboards).where(_key(owner, name)).values(last_activity=when)
                )

    @translated
    async def record_views(self, counted: Sequence[tuple[str, str, date, int]]) -> None:
        """Add a batch of page views per dashboard and day (the proxy counts them)."""
        if not counted:
            return
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        async with self.transaction() as conn:
            for owner, name, day, count in counted:
                statement = insert(views).values(owner=owner, name=name, day=day, count=count)
                await conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["owner", "name", "day"],
                        set_={"count": views.c.count + statement.excluded.count},
                    )
                )

    @translated
    async def record_logout(self, user: str, at: float) -> None:
        """``user`` logged out at ``at``: their sessions begun before it are over."""
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(logouts).values(user=user, at=at)
        async with self.transaction() as conn:
            await conn.execute(
                statement.on_conflict_do_update(index_elements=["user"], set_={"at": at})
            )

    @translated
    async def logouts_since(self, since: float) -> dict[str, float]:
        """The logouts recorded after ``since`` (by any replica)."""
        query = sa.select(logouts.c.user, logouts.c.at).where(logouts.c.at > since)
        async with self.engine.connect() as conn:
            return {user: at for user, at in await conn.execute(query)}

    @translated
    async def views(self, owner: str, name: str, since: date) -> dict[date, int]:
        """Page views per day from ``since`` on (days without views are left out)."""
        query = sa.select(views.c.day, views.c.count).where(
            views.c.owner == owner, views.c.name == name, views.c.day >= since
        )
        async with self.engine.connect() as conn:
            return {day: count for day, count in await conn.execute(query)}
