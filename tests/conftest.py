"""Fixtures shared by every test package: databases (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import Postgres, postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres: Postgres) -> str:
    return postgres.url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind the gateway supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.sqlite'}"
    return await fresh_database(request.getfixturevalue("postgres_url"))


async def fresh_database(server: str) -> str:
    """A new, empty database on the test PostgreSQL server; its URL."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.replace("postgresql://", "postgres://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.rsplit("/", 1)[0] + "/" + name
