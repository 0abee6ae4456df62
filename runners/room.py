"""An owner's requirements layers within the admin's total (``requirements.max_total``).

Each build is bounded by itself (``max_bytes``); without a total an owner could make layer
after layer — one line changed, a marker added, each time — until the disk every owner's
layers share was full (the last re-test: five layers of 91 MB from one dashboard, all
kept). Before a build, the owner's builds that no runner holds go, least recently used
first, until the new one fits at its largest; builds an app runs on stay, and when they
alone leave no room the install fails and says so.

Which build is in use: each runner holds a shared ``flock`` on its build's ``IN_USE``
file for as long as it lives, and touches it when it takes it (its last use); a build
being made is its key's, whose ``.lock`` its builder holds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from runners.errors import RequirementsFailed
from runners.usage import make_ours, remove

IN_USE = ".in-use"  # each runner's shared lock on the build its app runs on
KEY_LOCK = ".lock"  # a key's: its builder's, while it makes a build
ROOM_LOCK = ".room"  # the owner's: making room and starting a build, one runner at a time
_HELD: list[int] = []  # this runner's shared locks on the builds its app runs on


def hold(build: str) -> None:
    """A shared lock on ``build`` for as long as this runner lives (the kernel drops it
    with the process): no sweep or eviction removes a build an app runs on."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC  # never through a link
    try:
        fd = os.open(os.path.join(build, IN_USE), flags, 0o600)
    except OSError as e:  # a pod's app container, where the layers are read-only
        if e.errno != errno.EROFS:
            raise
        fd = os.open(os.path.join(build, IN_USE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:  # never waiting: an exclusive lock is a removal under way (remove_unless_held)
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    with contextlib.suppress(OSError):
        os.utime(fd)  # its last use: the least recently used go first
    _HELD.append(fd)


def taken(build: str) -> bool:
    """:func:`hold`, or False where the build is being removed (or is gone)."""
    try:
        hold(build)
        return True
    except OSError:
        return False


def held(path: Path) -> bool:
    """Whether another open file holds a lock on ``path`` (a missing file holds none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # not to be looked at: left alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # and with it the lock, if taken


def restore(folder: Path) -> None:
    """The owner's layers folder and a key's, the runner's to write again (build code in a
    pod, where an install may chmod, made its key's read-only: the layer's link could not
    be made, and every later start of that layer crashed — the fourteenth re-test)."""
    for path in (folder.parent, folder):
        with contextlib.suppress(OSError):
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode) and mode & 0o700 != 0o700:
                os.chmod(path, stat.S_IMODE(mode) | 0o700)


def remove_unless_held(build: Path) -> bool:
    """Remove ``build`` unless a runner runs an app on it; whether it went (one that
    could not be removed still counts)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC  # never through a link
    try:
        fd = os.open(build / IN_USE, flags, 0o600)
    except PermissionError:  # build code made it unreadable (a pod): the runner's again
        make_ours(build)
        try:
            fd = os.open(build / IN_USE, flags, 0o600)
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        # Out of its path first: a runner that found it a moment ago as its key's layer
        # may not take it now (it was handed a build being removed: the thirteenth re-test).
        doomed = build.with_name(f".gone-{build.name}")
        os.rename(build, doomed)
        return remove(doomed)  # the lock goes with the file's last descriptor, after
    except OSError:
        return False
    finally:
        os.close(fd)


def last_use(build: Path) -> float:
    """When a runner last took ``build`` (else when it was made)."""
    for path in (build / IN_USE, build):
        with contextlib.suppress(OSError):
            return os.lstat(path).st_mtime
    return 0.0


def builds(cache: Path) -> tuple[list[Path], list[Path]]:
    """Every build of the owner's layers (``<cache>/<key>/<build>``), and every stray: what
    is neither a build nor a key's lock and pointers (on Kubernetes an install's code may
    write anywhere in the owner's layers: the last re-test put 200 MB beside its build)."""
    found: list[Path] = []
    strays: list[Path] = []
    with contextlib.suppress(OSError):
        for key in cache.iterdir():
            if key.name == ROOM_LOCK:
                continue
            if not key.is_dir() or key.is_symlink():
                strays.append(key)
                continue
            with contextlib.suppress(OSError):
                for entry in key.iterdir():
                    if entry.is_dir() and not entry.is_symlink():
                        found.append(entry)
                    elif not _kept(entry):
                        strays.append(entry)
    return found, strays


def _kept(entry: Path) -> bool:
    """A key's lock, its ``current`` link and a new build's link on its way there."""
    if entry.name == KEY_LOCK:
        return entry.is_file() and not entry.is_symlink()
    return entry.is_symlink() and (entry.name == "current" or entry.name.startswith(".current-"))


def make_room(
    cache: Path, need: int, total: int, measure: Callable[[Path], tuple[int, bool]]
) -> None:
    """Free the owner's layers of strays, then of enough unused builds, that ``need`` more
    bytes keep them within ``total``; RequirementsFailed when builds in use (or being
    made, counted at their largest) leave too little. ``measure``: a build's bytes and
    whether it is finished. Called with the owner's room lock held (:func:`room`)."""
    found, strays = builds(cache)
    for stray in strays:
        remove(stray)
    taken = []
    for build in found:
        bytes_, done = measure(build)
        making = not done and held(build.parent / KEY_LOCK)
        taken.append((making, last_use(build), build, max(bytes_, need) if making else bytes_))
    used = sum(t[3] for t in taken)
    for making, _, build, bytes_ in sorted(taken, key=lambda t: t[:2]):
        if used + need <= total:
            return
        if not making and remove_unless_held(build):
            used -= bytes_
    if used + need > total:
        raise RequirementsFailed(
            f"your dashboards' installed requirements take {used / 2**20:,.0f} MB, and a new "
            f"layer may take {need / 2**20:,.0f} MB more: past this hub's limit of "
            f"{total / 2**20:,.0f} MB per owner. Stop a dashboard whose requirements.txt "
            "you no longer need, then start this one again."
        )


def sweep_strays(cache: Path) -> None:
    """What an install left outside its build, gone (its build is measured; this is not)."""
    for stray in builds(cache)[1]:
        remove(stray)


@contextlib.contextmanager
def room(cache: Path) -> Iterator[None]:
    """The owner's room lock: one runner at a time makes room and starts its build, so
    that the next one counts that build (two dashboards starting at once passed the
    total: the last re-test)."""
    fd = os.open(cache / ROOM_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
