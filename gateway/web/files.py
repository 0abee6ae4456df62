"""What a creator's storage holds, for the form's file picker and its "no such file" check.

The path comes from the creator and has passed :func:`runners.spec.relative_path`
(no ``..``, not absolute); here the real path must also stay inside the root after
symlinks are followed, so a link to ``/etc`` or another user's home shows nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import NotFound
from runners.recipes import RUNNABLE_SUFFIXES

RUNNABLE = RUNNABLE_SUFFIXES  # what some recipe runs
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class FileEntry:
    name: str
    folder: bool

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "type": "folder" if self.folder else "file"}


def inside(root: Path, path: str) -> Path:
    """``root/path`` with symlinks resolved, if it is inside ``root``; else :class:`NotFound`."""
    base = root.resolve()
    target = (base / path).resolve()
    if target != base and base not in target.parents:
        raise NotFound(f"there is no folder {path!r} in your storage")
    return target


def list_folder(root: Path, path: str) -> list[FileEntry]:
    """Sub-folders and runnable files (notebooks, scripts) of one folder; hidden ones left out."""
    folder = inside(root, path)
    if not folder.is_dir():
        raise NotFound(
            f"there is no folder {path!r} in your storage"
            if path
            else "you have no storage here yet"
        )
    found: list[FileEntry] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                target = inside(root, os.path.join(path, entry.name))
            except NotFound:
                continue  # a link out of the storage
            if target.is_dir():
                found.append(FileEntry(entry.name, folder=True))
            elif target.is_file() and entry.name.lower().endswith(RUNNABLE):
                found.append(FileEntry(entry.name, folder=False))
            if len(found) >= MAX_ENTRIES:
                break
    return sorted(found, key=lambda e: (not e.folder, e.name.lower()))


def has_file(root: Path, path: str) -> bool:
    try:
        return inside(root, path).is_file()
    except NotFound:
        return False
