"""A real, private PostgreSQL server for the tests (Debian's package), on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.support.ports import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass(frozen=True)
class Postgres:
    url: str
    control: list[str]  # pg_ctl -D <data>, as the server's user
    start_options: list[str]  # what ``start`` needs again: -o <server options> -l <log>

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.control, *args], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=True
        )

    def restart(self) -> None:
        """A fast restart: every client connection is cut, the data stays."""
        self._ctl("-m", "fast", "-w", "restart")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        self._ctl(*self.start_options, "-w", "start")


def available() -> bool:
    return _bin("pg_ctl") is not None and _bin("initdb") is not None


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start a throw-away cluster; yield it (``url``: its ``postgres`` database)."""
    pg_ctl, initdb = _bin("pg_ctl"), _bin("initdb")
    assert pg_ctl and initdb, "PostgreSQL is not installed (scripts/setup installs it)"
    base = tempfile.mkdtemp(prefix="podium-pg-")
    data = os.path.join(base, "data")
    # initdb refuses to run as root: run the server as Debian's postgres user then.
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(base, "postgres")
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": True}
    subprocess.run(
        [*prefix, initdb, "-D", data, "-A", "trust", "-U", "podium", "--no-sync"], **quiet
    )  # type: ignore[call-overload]
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    )
    subprocess.run(
        [
            *prefix,
            pg_ctl,
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-l",
            os.path.join(base, "log"),
            "start",
        ],
        **quiet,
    )  # type: ignore[call-overload]
    try:
        yield Postgres(
            f"postgresql://podium@127.0.0.1:{port}/postgres",
            [*prefix, pg_ctl, "-D", data],
            ["-o", options, "-l", os.path.join(base, "log")],
        )
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", data, "-m", "immediate", "stop"], **quiet)  # type: ignore[call-overload]
        shutil.rmtree(base, ignore_errors=True)


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
