"""The store on SQLite and on a real PostgreSQL: migrations, CRUD, conflicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.domain.dashboards import Access, Dashboard, Source
from gateway.domain.runtime import Runtime, RuntimeRecord
from gateway.domain.store import Store
from gateway.domain.tables import metadata
from gateway.errors import Conflict, NotFound

pytestmark = pytest.mark.functional

RUNTIME = {
    "launch_id": "l7",
    "host": "127.0.0.1",
    "port": 8000,
    "started": 1.0,
    "details": {"pid": 7},
}


def sample(name: str = "sales", owner: str = "alice") -> Dashboard:
    return Dashboard(
        owner=owner,
        name=name,
        framework="streamlit",
        entry="app.py",
        title="Sales",
        source=Source(type="git", url="https://h/r.git", ref="v1", path="app"),
        access=Access("restricted", ("carol",), ("analysts",)),
        env={"REGION": "emea"},
    )


async def test_crud(database_url: str) -> None:
    store = Store(database_url)
    await store.open()
    await store.open()  # idempotent, as when a second gateway starts
    try:
        created = await store.create(sample())
        got = await store.get("alice", "sales")
        assert got == created
        with pytest.raises(Conflict) as conflict:
            await store.create(sample())
        assert conflict.value.field == "name"
        await store.create(sample("other", owner="bob"))
        assert [d.name for d in await store.list()] == ["sales", "other"]
        assert [d.name for d in await store.list(owner="bob")] == ["other"]
        await store.update(replace(got, title="New", access=Access("authenticated")))
        assert (await store.get("alice", "sales")).title == "New"
        record = RuntimeRecord(Runtime("l1", "127.0.0.1", 8000, 1.5, {"pid": 42}), failures=2)
        await store.set_state("alice", "sales", status="ready", runtime=record)
        assert (await store.get("alice", "sales")).status == "ready"
        assert await store.runtime("alice", "sales") == record
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        await store.record_activity([("alice", "sales", when)])
        await store.delete("alice", "sales")
        with pytest.raises(NotFound):
            await store.get("alice", "sales")
        with pytest.raises(NotFound):
            await store.delete("alice", "sales")
    finally:
        await store.close()


async def test_migrations_match_the_tables(database_url: str) -> None:
    store = Store(database_url)
    await store.open()
    try:
        async with store.engine.connect() as conn:

            def diff(sync: sa.Connection) -> list[object]:
                return list(compare_metadata(MigrationContext.configure(sync), metadata))

            assert await conn.run_sync(diff) == []
    finally:
        await store.close()


async def test_upgrade_keeps_existing_dashboards(database_url: str) -> None:
    """A store created by an older release is migrated in place: nothing is lost."""
    from alembic import command
    from alembic.config import Config

    from gateway.domain.store import MIGRATIONS

    store = Store(database_url)

    def release_0001_with_one_dashboard(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        table = sa.Table("dashboards", sa.MetaData(), autoload_with=connection)  # as 0001 made it
        assert "command" not in table.c
        when = datetime(2026, 1, 1, tzinfo=UTC)
        connection.execute(
            sa.insert(table).values(
                owner="alice",
                name="old",
                title="Old",
                description="",
                framework="voila",
                source={"type": "storage", "path": ""},
                entry="a.ipynb",
                access_mode="private",
                access_users=[],
                access_groups=[],
                env={},
                idle_timeout=1800,
                desired="stopped",
                status="stopped",
                message="",
                runtime={},
                created=when,
                updated=when,
            )
        )

    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(release_0001_with_one_dashboard)
        await store.open()
        old = await store.get("alice", "old")
        assert (old.title, old.framework, old.command) == ("Old", "voila", ())
    finally:
        await store.close()


async def test_upgrade_moves_git_credentials_out_of_urls(database_url: str) -> None:
    """Release 0005 kept a private repository's token in the source URL: the upgrade
    keeps the dashboard, and with a key moves the token into its encrypted secrets."""
    from alembic import command
    from alembic.config import Config

    from gateway.domain.secrets import Crypt, reveal
    from gateway.domain.store import MIGRATIONS
    from gateway.domain.upgrades import move_git_credentials

    store = Store(database_url)

    def release_0005_with_a_private_repository(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        table = sa.Table("dashboards", sa.MetaData(), autoload_with=connection)
        assert "secrets" not in table.c
        when = datetime(2026, 1, 1, tzinfo=UTC)
        for name, url in (("private", "https://alice:t0ken@h.example/r.git"),
                          ("open", "https://h.example/o.git")):  # fmt: skip
            connection.execute(
                sa.insert(table).values(
                    owner="alice",
                    name=name,
                    title=name,
                    description="",
                    framework="streamlit",
                    source={"type": "git", "url": url, "ref": "v1", "path": "app"},
                    entry="app.py",
                    access_mode="private",
                    access_users=[],
                    access_groups=[],
                    env={"REGION": "emea"},
                    command=[],
                    idle_timeout=1800,
                    profile="",
                    desired="running",
                    status="ready",
                    message="",
                    runtime=RUNTIME,
                    created=when,
                    updated=when,
                )
            )

    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(release_0005_with_a_private_repository)
        await store.open()
        assert await move_git_credentials(store, None) == 1  # no key: left where it was
        kept = await store.get("alice", "private")
        assert kept.source.url == "https://alice:t0ken@h.example/r.git" and kept.secrets == {}
        crypt = Crypt.parse("ab" * 32)
        assert await move_git_credentials(store, crypt) == 0
        moved = await store.get("alice", "private")
        assert moved.source.url == "https://h.example/r.git"
        assert reveal(moved.secrets, crypt) == ({}, ("alice", "t0ken"))
        assert (moved.status, moved.desired, moved.env) == ("ready", "running", {"REGION": "emea"})
        assert (await store.runtime("alice", "private")).as_json() == RUNTIME
        assert (await store.get("alice", "open")).source.url == "https://h.example/o.git"
        assert await move_git_credentials(store, crypt) == 0  # again: nothing to do
    finally:
        await store.close()
