"""What an install takes on disk, as the runner measures it while pip runs and after:
the build at any depth, and the files the install removed but keeps open."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from runners.errors import RequirementsFailed
from runners.reqlines import FILE

ENTRY = 4096  # what an entry costs at least (a block, an inode): empty files count too


def _refuse(error: OSError) -> None:
    """A folder pip removed meanwhile is no longer there to count; one that cannot be read
    would hide what it holds."""
    if not isinstance(error, FileNotFoundError | NotADirectoryError):
        raise RequirementsFailed(f"{FILE}'s install cannot be measured ({error})")


def size_of(root: Path) -> int:
    """What the build takes on disk: every entry's blocks, at least ``ENTRY`` each
    (folders and empty files too), at any depth (through folder descriptors: a path
    longer than the system's limit is measured, not skipped). A folder that cannot be
    read fails the install."""
    total = 0
    for _, folders, files, fd in os.fwalk(root, onerror=_refuse):
        for name in (*folders, *files):
            with contextlib.suppress(FileNotFoundError):  # removed by pip since listed
                found = os.stat(name, dir_fd=fd, follow_symlinks=False)
                total += max(found.st_blocks * 512, ENTRY)
    return total


def unlinked_size(pids: Iterable[int]) -> int:
    """What files removed while still open (or mapped) by ``pids`` take: a disk's space
    no walk of the build sees."""
    total, seen = 0, set()
    for pid in pids:
        for kind in ("fd", "map_files"):
            with contextlib.suppress(OSError):
                for name in os.listdir(f"/proc/{pid}/{kind}"):
                    with contextlib.suppress(OSError):
                        found = os.stat(f"/proc/{pid}/{kind}/{name}")
                        key = (found.st_dev, found.st_ino)
                        if found.st_nlink == 0 and stat.S_ISREG(found.st_mode) and key not in seen:
                            seen.add(key)
                            total += found.st_blocks * 512
    return total
