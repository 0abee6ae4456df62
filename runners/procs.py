"""The runner's own processes, read from ``/proc``: the standard library only.

The runner must run in any image with a Python 3 (an environment's, on Kubernetes), where
psutil may not be installed; all it needs is who its children and descendants are, and
whether a process is still there.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable


def stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and parent, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()  # past the name, which may hold anything
    return fields[0].decode(), int(fields[1])


def parents() -> dict[int, int]:
    """Every live process's parent, by pid."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := stat(int(name))) is not None:
            found[int(name)] = info[1]
    return found


def children(pid: int, recursive: bool = False) -> list[int]:
    table = parents()
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [child for child, of in table.items() if of == parent]
        found += kids
        todo += kids if recursive else []
    return found


def zombie(pid: int) -> bool:
    """Ended, not reaped: its main thread a zombie and no other thread left (one whose
    main thread alone exited runs on in its others, the re-test: it wrote for seconds)."""
    info = stat(pid)
    return info is not None and info[0] in ("Z", "X") and not _threads_running(pid)


def threads(pid: int) -> list[int]:
    """A process's threads (an exited main thread among them), none when it is gone."""
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def activity(tid: int) -> tuple[str, int]:
    """A thread's state letter and how many times it has left a processor (it cannot
    run, even for an instant, without that count moving or its state showing it), or
    ``("X", -1)`` once it is gone."""
    state, left = "X", -1
    with contextlib.suppress(OSError), open(f"/proc/{tid}/status", "rb") as f:
        for line in f:
            key, _, value = line.partition(b":")
            if key == b"State":
                state, left = value.split()[0].decode(), 0
            elif key in (b"voluntary_ctxt_switches", b"nonvoluntary_ctxt_switches"):
                left += int(value)
    return state, left


def _threads_running(pid: int) -> bool:
    return any(t != pid and (stat(t) or ("Z",))[0] not in ("Z", "X") for t in threads(pid))


def alive(pid: int) -> bool:
    """There and not a zombie; a zombie that is this process's child is reaped."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    info = stat(pid)
    return info is not None and (info[0] not in ("Z", "X") or _threads_running(pid))


def signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Wait (blocking: call it in a thread) until ``pids`` are gone; those still alive."""
    left = list(pids)
    deadline = time.monotonic() + timeout
    while left:
        left = [pid for pid in left if alive(pid)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return left
