"""What an install takes on disk, as the runner measures it while pip runs and after:
the build at any depth, and the files the install removed but keeps open."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from runners import pidns, procs
from runners.errors import RequirementsFailed
from runners.pidns import Freezer
from runners.reqlines import FILE

ENTRY = 4096  # what an entry costs at least (a block, an inode): empty files count too
MAX_DEPTH = 200  # folders in folders; an install's deepest are a few dozen
LOOKS = 5  # looks in a row during which a process of the install ran: it fails
MOST_BETWEEN = 2.0  # seconds between two looks at most, whatever a look took


def pause(took: float) -> float:
    """How long to let the install run after a look that took ``took`` seconds (it is
    stopped while looked at): a second, or for a large build four times its look — so a
    fifth of the time at most — but never more than ``MOST_BETWEEN``: build code makes a
    look slow at will (the eleventh re-test: 120 threads with 4,000 descriptors, a look of
    3 s, 800 MB written and removed in the 13 s until the next)."""
    return min(max(1.0, 4 * took), MOST_BETWEEN)


def _refuse(error: OSError) -> None:
    """A folder pip removed meanwhile is no longer there to count; one that cannot be read
    would hide what it holds."""
    if not isinstance(error, FileNotFoundError | NotADirectoryError):
        raise RequirementsFailed(f"{FILE}'s install cannot be measured ({error})")


def size_of(root: Path) -> int:
    """What the build takes on disk: every entry's blocks, at least ``ENTRY`` each
    (folders and empty files too), through folder descriptors (a path longer than the
    system's limit is measured, not skipped). A folder that cannot be read, or folders
    nested deeper than ``MAX_DEPTH``, fail the install."""
    total, top = 0, str(root).count(os.sep)
    try:
        for folder, folders, files, fd in os.fwalk(root, onerror=_refuse):
            if folder.count(os.sep) - top > MAX_DEPTH:
                raise RequirementsFailed(f"{FILE}'s install made folders over {MAX_DEPTH} deep")
            for name in (*folders, *files):
                with contextlib.suppress(FileNotFoundError):  # removed by pip since listed
                    found = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    total += max(found.st_blocks * 512, ENTRY)
    except RecursionError:  # (a tree made deep at once, by renaming folders into others)
        raise RequirementsFailed(f"{FILE}'s install made folders over {MAX_DEPTH} deep") from None
    return total


def make_ours(path: Path) -> None:
    """Every folder and file of a build readable and writable by the runner again, links
    not followed: in a pod, where an install may chmod (a configure script runs what it
    compiles), build code made the owner's builds unreadable — unmeasurable, unremovable,
    and every later install of theirs refused (the twelfth and fourteenth re-tests)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        if path.is_dir() and not path.is_symlink():
            subprocess.run(["chmod", "-R", "u+rwX", "--", str(path)],
                           check=False, capture_output=True, timeout=600)  # fmt: skip


def remove(path: Path) -> bool:
    """Remove a build, whatever an install made of it: coreutils' rm walks any depth
    (Python's rmtree recurses, and a tree thousands of folders deep made it raise, the
    build left behind for good: the re-test), and where a folder of it may not be read or
    written (build code made one so: a runner that is not root, as in a pod, could not
    remove it — 84 MB left on the claim at each failed start, the twelfth re-test) the
    build's folders are made the runner's to empty first. Whether it is gone; never raises."""
    for fix in (False, True):
        if fix:
            make_ours(path)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)],
                           check=False, capture_output=True, timeout=600)  # fmt: skip
        if not os.path.lexists(path):
            return True
    return False


def install_usage(
    build: Path, before: set[int], freezer: Freezer | None, reaper: int
) -> tuple[int, set[int]]:
    """What an install takes: its build, with the files its processes removed but keep
    (open, mapped, run), looked at with them stopped where they can be (a pid changed
    by fork, exit, fork… between the list of pids and the look outran it: the re-test);
    and which of them were stopped (by build code) before. ``before``: the runner's
    processes that are not the install's; ``reaper``: the install's (runners.pidns)."""
    pids = pidns.descendants() - before
    stopped = {pid for pid in pids if (procs.stat(pid) or ("",))[0] in ("T", "t")}
    if freezer is None:
        return size_of(build) + unlinked_size(pids), stopped
    # The walk too: files moved between folders as it goes escaped it (the eighth re-test:
    # 360 MB past a 100 MB limit for 25 s, renamed behind the walk and back).
    with freezer.frozen() as stopped_all:
        # The reaper, and the namespace's first process (undumpable) where there is one.
        ours = {reaper, *(procs.children(reaper) if freezer.works else ())}

        def install() -> set[int]:
            return pidns.descendants() - before - ours

        if not stopped_all:
            return size_of(build) + unlinked_size(install()), stopped
        # A look counts only if no thread of the install ran meanwhile: one continued
        # mid-walk by its own timer (SIGCONT) moved files behind the walk and back (the
        # tenth re-test: 700 MB past a 300 MB limit for 38 s, unseen).
        for _ in range(LOOKS):
            held, seen = _stay_stopped(freezer, install)
            size = size_of(build) + unlinked_size(held)
            if _activity(install()) == seen:
                return size, stopped
            freezer.resume()  # (an honest thread may have left the kernel: a while, again)
            time.sleep(0.1)
            freezer.stop()
        raise RequirementsFailed(f"the processes of {FILE}'s install ran while measured: cut short")


def _activity(pids: Iterable[int]) -> dict[int, tuple[str, int]]:
    return {tid: procs.activity(tid) for pid in pids for tid in procs.threads(pid)}


def _stay_stopped(
    freezer: Freezer, install: Callable[[], set[int]]
) -> tuple[set[int], dict[int, tuple[str, int]]]:
    """Every thread of the install stopped (or in the kernel, where it stops on its way
    out): one continuing others as the first process stops them (SIGCONT to its group,
    the eighth re-test; from timers, by a thread behind an exited main thread, the ninth)
    is stopped again; still running after a second, the install fails. The install's
    processes, all stopped, and their threads' activity (runners.procs.activity)."""
    for tries in range(100):
        pids = install()  # (each a scan of /proc: once a look when all is stopped)
        seen = _activity(pids)
        states = {state for state, _ in seen.values()}
        # In the kernel (D): it stops once out, which would void the look; half a second.
        if not states & {"R", "S"} and ("D" not in states or tries >= 50):
            return pids, seen
        time.sleep(0.01)
        freezer.stop()
    raise RequirementsFailed(f"the processes of {FILE}'s install would not stay stopped")


def unlinked_size(pids: Iterable[int]) -> int:
    """What files removed while still open, mapped or run by ``pids`` take: a disk's space
    no walk of the build sees (a program's file removed as it runs, the re-test: 400 MB).
    A removed file mapped where the runner cannot measure it (``map_files`` wants a
    capability a runner as its owner, or in a pod, lacks: the last re-test hid 200 MB so)
    fails the install, as does a living process whose descriptors it may not read."""
    total, seen = 0, set()
    for pid in pids:
        # Every thread, as a process of its own: a thread may have a descriptor table of
        # its own (the re-test), and once the main thread alone exited, /proc/<pid> shows
        # no program, no mapping (the seventh re-test: 320 MB mapped so, unmeasured).
        tids: list[str] = []
        with contextlib.suppress(OSError):
            tids = os.listdir(f"/proc/{pid}/task")
        for tid in map(int, tids or [str(pid)]):
            unseen = False
            found = [_looked(tid, f"/proc/{tid}/exe")]
            for place in (f"/proc/{tid}/map_files", f"/proc/{tid}/fd"):
                for name in _listed(tid, place):
                    try:
                        found.append(os.stat(f"{place}/{name}"))
                    except PermissionError:
                        unseen = True
                    except OSError:
                        continue
            for one in found:
                key = (one.st_dev, one.st_ino) if one else None
                if one and one.st_nlink == 0 and stat.S_ISREG(one.st_mode) and key not in seen:
                    seen.add(key)
                    total += one.st_blocks * 512
            if unseen and removed_mapped(tid):
                raise RequirementsFailed(
                    f"{FILE}'s install keeps a removed file mapped, which this runner cannot "
                    "measure: refused"
                )
    return total


def _ending(pid: int) -> bool:
    """Whether a process whose descriptors or program the runner may not read is ending
    (its memory goes first: the re-test saw an honest build's short-lived processes
    refused so, one time in three) rather than hiding them (it made itself undumpable)."""
    for _ in range(10):
        info = procs.stat(pid)  # a thread's own state: its main thread's ending is not it
        if info is None or info[0] in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False


def _hides() -> RequirementsFailed:
    return RequirementsFailed(f"{FILE}'s install hides what it holds from the runner: refused")


def _listed(pid: int, place: str) -> list[str]:
    for _ in range(2):
        try:
            return os.listdir(place)
        except PermissionError:
            if place.endswith("/map_files") or _ending(pid):  # map_files: removed_mapped
                return []
        except OSError:
            return []
    raise _hides()


def _looked(pid: int, path: str) -> os.stat_result | None:
    for _ in range(2):
        try:
            return os.stat(path)
        except PermissionError:
            if _ending(pid):
                return None
        except OSError:
            return None
    raise _hides()


def removed_mapped(pid: int) -> list[str]:
    """The removed files ``pid`` maps, by name (``/proc/<pid>/maps``, which its own user
    may read), save those that were never on a disk (``memfd:``, ``/dev/…``, SysV)."""
    found = []
    with contextlib.suppress(OSError), open(f"/proc/{pid}/maps", "rb") as f:
        for line in f:
            fields = line.rstrip(b"\n").split(maxsplit=5)
            if len(fields) == 6 and fields[4] != b"0" and fields[5].endswith(b" (deleted)"):
                name = fields[5].decode("utf-8", "replace")
                if not name.startswith(("/memfd:", "/dev/", "/SYSV")):
                    found.append(name)
    return found
