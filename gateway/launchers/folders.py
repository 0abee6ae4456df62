"""A runner's folder, touched by the gateway without following what its owner planted.

With ``run_as_owner`` each dashboard's folder belongs to its owner (their runner writes
its log, checkout and home there), while the gateway, as root, writes the launch spec and
reads the log. Anything the owner can name in that folder — a symbolic link to
``/etc/shadow`` in place of ``runner.log``, a hard link, a FIFO — must not make root read,
write or chown something else (found by the attacker review: an owner read any file and
took ownership of it). So every file is opened relative to the folder's own descriptor,
never following a link, and used only if it is a plain file with one name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

from gateway.launchers.guards import layer_fields

LOG, SPEC = "runner.log", "spec.json"
LAYER = "layer.json"  # which requirements layer the runner runs the app on (runners.layers)
REBUILD = ".rebuild"  # a rebuild asked: requirements.txt installed afresh at the next start
TAIL_BYTES = 1 << 20
LINE_CHARS = 4096


def _folder_fd(folder: Path) -> int:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.ENOTDIR, f"{folder} is not a folder")
    return fd


def open_file(folder: Path, name: str, flags: int, mode: int = 0o600) -> int:
    """A descriptor of the plain file ``name`` in ``folder`` (OSError for a link, a
    FIFO, a device, a file with another name elsewhere)."""
    folder_fd = _folder_fd(folder)
    try:
        fd = os.open(
            name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode, dir_fd=folder_fd
        )
    finally:
        os.close(folder_fd)
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode) or found.st_nlink != 1:
        os.close(fd)
        raise OSError(errno.EPERM, f"{folder / name} is not a plain file")
    os.set_blocking(fd, True)
    return fd


def make_folder(folder: Path, owner: tuple[int, int] | None) -> None:
    """The folder, mode 700 (its log and spec are for the owner and the gateway only),
    handed to ``owner`` (uid, gid) when its runner runs as them."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = _folder_fd(folder)
    try:
        os.fchmod(fd, 0o700)
        if owner is not None:
            os.fchown(fd, *owner)
    finally:
        os.close(fd)


def open_log(folder: Path, owner: tuple[int, int] | None) -> int:
    """The runner's log, for appending (mode 600: a sandbox may make the folder
    searchable for the framework's own home)."""
    fd = open_file(folder, LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.fchmod(fd, 0o600)
    if owner is not None:
        os.fchown(fd, *owner)
    return fd


def write_spec(folder: Path, text: str, owner: tuple[int, int] | None) -> Path:
    """A new launch spec (mode 600: it holds the runner's credential and secrets)."""
    folder_fd = _folder_fd(folder)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(SPEC, dir_fd=folder_fd)  # whatever is there, a link included
    finally:
        os.close(folder_fd)
    fd = open_file(folder, SPEC, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w") as f:
        if owner is not None:
            os.fchown(f.fileno(), *owner)
        f.write(text)
    return folder / SPEC


def read_tail(folder: Path, lines: int) -> list[str]:
    """The last ``lines`` of the runner's log, from its last :data:`TAIL_BYTES` at most,
    each cut at :data:`LINE_CHARS` (a log is its owner's to make: one line of 100 GB, a
    sparse file that costs no disk, must not cost the gateway its memory — found by the
    fourth attacker review); none when there is no plain log."""
    try:
        fd = open_file(folder, LOG, os.O_RDONLY)
    except OSError:
        return []
    with open(fd, "rb") as f:
        size = os.fstat(fd).st_size
        f.seek(max(0, size - TAIL_BYTES))
        data = f.read(TAIL_BYTES)
    found = data.decode("utf-8", "replace").split("\n")
    if size > TAIL_BYTES:
        found = found[1:]  # the first is a piece of a line
    if found and found[-1] == "":
        found.pop()
    return [line[:LINE_CHARS] for line in found[-lines:]] if lines > 0 else []


def read_layer(folder: Path) -> dict[str, Any] | None:
    """The runner's word on the requirements layer its app runs on (its owner's to make:
    read as a plain file, a few KB at most, and only the fields shown)."""
    try:
        fd = open_file(folder, LAYER, os.O_RDONLY)
    except OSError:
        return None
    with open(fd, "rb") as f:
        data = f.read(16_384)
    try:
        found = json.loads(data)
    except ValueError:
        return None
    return layer_fields(found)
