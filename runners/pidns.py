"""An install's own PID namespace: nothing a requirements.txt install starts outlives it.

pip runs a source distribution's build code (setup.py, a build backend). Such code may
start a process that leaves pip's process group and session and keeps changing its pid
(fork, exit, fork…); a sweep by pid never catches it for sure, and it would go on
writing the layer after its marker said it was complete. In a PID namespace of its own,
pip is process 1: when it exits, the kernel kills every process in the namespace, and
pip's parent hears of its exit only once they are all gone.

- ``enter`` (in the child before exec, before the sandbox, which allows no new
  namespace): the namespace its children are born in;
- the **reaper** (``wrap``): a few lines of Python that fork pip into it, wait for it
  and exit as it did; a SIGTERM for the group ends pip at once (the namespace's first
  process ignores signals it has no handler for, except SIGKILL);
- ``sweep`` afterwards, in every case: the runner's descendants that were not there
  before the install are killed until none is left (where no namespace could be made: a
  pod whose runtime refuses them).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from runners import procs

CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
_EPERM = 1
_REAPER = """\
import ctypes, os, signal, sys
pid = os.fork()
if pid == 0:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
sys.exit(code if code >= 0 else 128 - code)
"""


def enter(in_user_namespace: bool) -> bool:
    """This (single-threaded) process's next children into a new PID namespace; whether
    they will be. ``in_user_namespace``: it holds its capabilities there already (a
    private network's or view's user namespace); otherwise root may make one directly and
    anyone else through a user namespace of their own, where the kernel allows it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWPID) == 0:
        return True
    if in_user_namespace or ctypes.get_errno() != _EPERM:
        return False
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0:
        return False
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    return True


def wrap(argv: Sequence[str]) -> list[str]:
    """``argv`` run by the reaper (its first word must be a path)."""
    return [sys.executable, "-I", "-S", "-c", _REAPER, *argv]


def descendants() -> set[int]:
    return set(procs.children(os.getpid(), recursive=True))


def _new(before: set[int]) -> set[int]:
    """Live descendants not in ``before`` (a dead one re-parented to the runner is reaped
    here; those in ``before`` are left to whoever waits for them)."""
    return {pid for pid in descendants() - before if procs.alive(pid)}


async def sweep(before: set[int], passes: int = 50) -> list[int]:
    """Kill the runner's descendants not in ``before`` until a few passes in a row find
    none; those still found after ``passes`` (a process outrunning the sweep: the caller
    must not trust what it may have written)."""
    quiet = 0
    for _ in range(passes):
        found = _new(before)
        if not found:
            quiet += 1
            if quiet == 3:
                return []
        else:
            quiet = 0
            procs.signal_all(found, signal.SIGKILL)
        await asyncio.sleep(0.02)
    return sorted(_new(before))
