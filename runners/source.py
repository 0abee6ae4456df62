"""Prepare the dashboard's files: resolve the working folder and the entry, safely.

A path from the spec is already relative and free of ``..`` (see
:func:`runners.spec.relative_path`); here it is resolved on disk so that a
symlink cannot lead outside the boundary either.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runners import git
from runners.errors import EntryError, SourceError
from runners.spec import DirectorySource, GitSource, Source


@dataclass(frozen=True)
class PreparedSource:
    workdir: Path
    entry: Path | None
    revision: str = ""


def inside(boundary: Path, relative: str, what: str, error: type[Exception]) -> Path:
    """Resolve ``boundary / relative`` and check it stays inside ``boundary``."""
    root = boundary.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise error(f"{what} {relative!r} leads outside its folder (through a symlink)")
    return target


def read_unlinked(path: Path, limit: int, what: str, error: type[Exception]) -> str:
    """The text of ``path`` (resolved: no link in it) as the runner reads an owner's file:
    through no link, not even one swapped in since it was resolved (the owner changes
    their storage while the runner works: the attacker review read the hub's key this
    way), a regular file of one name (not another's file linked in), ``limit`` bytes at
    most."""
    folder = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in path.parts[1:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError as e:
        raise error(f"{what} cannot be read ({e.strerror}): a link where a file was?") from None
    finally:
        os.close(folder)
    with os.fdopen(fd, "rb") as f:
        found = os.fstat(f.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise error(f"{what} is not a regular file")
        if found.st_nlink != 1:
            raise error(f"{what} has other names (hard links): make it a file of its own")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise error(f"{what} is larger than {limit // 1024} KB")
    return data.decode(errors="replace")


def resolve_entry(workdir: Path, entry: str) -> Path | None:
    if not entry:
        return None
    path = inside(workdir, entry, "the entry", EntryError)
    if not path.exists():
        raise EntryError(f"the entry file {entry!r} does not exist in {workdir}")
    if not path.is_file():
        raise EntryError(f"the entry {entry!r} is not a file")
    return path


async def fetch(source: GitSource, environ: Mapping[str, str]) -> str:
    """Clone a git source into its ``dest``; returns the commit checked out."""
    os.makedirs(source.dest, exist_ok=True)
    if source.password:  # the dashboard's own login wins over the runner image's
        login = {git.USERNAME_ENV: source.username, git.PASSWORD_ENV: source.password}
        environ = {**environ, **login}
    return await git.checkout(source, environ)


async def prepare(source: Source, entry: str, environ: Mapping[str, str]) -> PreparedSource:
    """Make the source available and return where the framework runs."""
    revision = ""
    if isinstance(source, DirectorySource):
        root = Path(source.root)
        if not root.is_dir():
            raise SourceError(f"the source folder {source.root} does not exist")
    else:
        assert isinstance(source, GitSource)
        if source.fetched:  # by ``podium-runner --fetch`` before (a pod's init container)
            if not os.path.isdir(source.dest) or not os.listdir(source.dest):
                raise SourceError(f"the clone in {source.dest} is missing")
        else:
            revision = await fetch(source, environ)
        root = Path(source.dest)
    workdir = inside(root, source.path, "the source path", SourceError)
    if not workdir.is_dir():
        raise SourceError(f"the source path {source.path!r} is not a folder")
    return PreparedSource(workdir=workdir, entry=resolve_entry(workdir, entry), revision=revision)
