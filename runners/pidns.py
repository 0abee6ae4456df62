"""An install's own PID namespace: nothing a requirements.txt install starts outlives it.

pip runs a source distribution's build code (setup.py, a build backend). Such code may
start a process that leaves pip's process group and session and keeps changing its pid
(fork, exit, fork…); a sweep by pid never catches it for sure, and it would go on
writing the layer after its marker said it was complete. In a PID namespace of its own,
whose first process exits with pip, the kernel kills every process in the namespace, and
the reaper hears of the end only once they are all gone.

- ``enter`` (in the child before exec, before the sandbox, which allows no new
  namespace): the namespace its children are born in;
- the **reaper** (``wrap``): a few lines of Python that fork the namespace's first
  process, which forks pip, waits for it and exits as it did; a SIGTERM for the group
  ends them at once. The first process stops and continues the rest of the namespace
  when the runner asks (``Freezer``), for the size watch: no process in the namespace
  can signal it (but with a handler it has not) nor read it (undumpable);
- where no namespace can be made (a pod: its runtime's seccomp profile refuses user
  namespaces) but the runner is its container's pid 1 (the ``layers`` init container),
  the runner stops and continues the rest itself: none of the container can stop it;
- ``sweep`` afterwards, in every case: the runner's descendants that were not there
  before the install are killed until none is left (where no namespace could be made).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from runners import procs
from runners.errors import RequirementsFailed

CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWIPC = 0x10000000, 0x20000000, 0x08000000
_EPERM = 1
_REAPER = """\
import ctypes, os, signal, sys, threading
libc = ctypes.CDLL(None)
control, argv = int(sys.argv[1]), sys.argv[2:]
if control >= 0:
    os.set_inheritable(control, False)  # never pip's
def freezer():  # stops (and continues) every process of the namespace but its first
    while (asked := os.read(control, 1)) in (b"s", b"c"):
        try:
            os.kill(-1, signal.SIGSTOP if asked == b"s" else signal.SIGCONT)
        except OSError:
            pass
        os.write(control, asked)
def run():
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    os.execv(argv[0], argv)
first = os.fork()
if first == 0:
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getpid() != 1 or control < 0:  # no namespace of its own: pip, as it is
        run()
    # The namespace's first process: none of it can stop or kill this one, nor read it.
    libc.prctl(4, 0, 0, 0, 0)  # undumpable
    pid = os.fork()
    if pid == 0:
        run()
    threading.Thread(target=freezer, daemon=True).start()
    while (ended := os.waitpid(-1, 0))[0] != pid:  # the namespace's orphans, reaped
        pass
    code = os.waitstatus_to_exitcode(ended[1])
    os._exit(code if code >= 0 else 128 - code)  # and the namespace with it
if control >= 0:
    os.close(control)
signal.signal(signal.SIGTERM, lambda *_: os.kill(first, signal.SIGKILL))
code = os.waitstatus_to_exitcode(os.waitpid(first, 0)[1])
sys.exit(code if code >= 0 else 128 - code)
"""


def enter(in_user_namespace: bool) -> bool:
    """This (single-threaded) process's next children into a new PID namespace, and it
    into an IPC namespace of its own (a System V segment an install made outlived it, held
    memory and was anyone's to read: the ninth re-test); whether they will be.
    ``in_user_namespace``: it holds its capabilities there already (a private network's or
    view's user namespace); otherwise root may make one directly and anyone else through a
    user namespace of their own, where the kernel allows it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWPID | CLONE_NEWIPC) == 0:
        return True
    if in_user_namespace or ctypes.get_errno() != _EPERM:
        return False
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC) != 0:
        return False
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    return True


def wrap(argv: Sequence[str], control: int = -1) -> list[str]:
    """``argv`` run by the reaper (its first word must be a path); ``control``: the
    reaper's end of a :class:`Freezer`'s socket pair, inherited."""
    return [sys.executable, "-I", "-S", "-c", _REAPER, str(control), *argv]


class Freezer:
    """Stops every process of an install but the reaper while the runner looks at what
    they hold: none can change its pid meanwhile (fork, exit, fork… outran the size watch's
    list of pids, the re-test), nor start another (a signal sent to many reaches a child
    being forked too). The namespace's first process does it, which no process in the
    namespace can stop; without a namespace (a pod's runtime refuses one), the runner
    itself where it is its container's pid 1 — else there is no freezing."""

    def __init__(self) -> None:
        self.runner, self.reaper = socket.socketpair()
        self.runner.settimeout(10)
        self.works = True  # the namespace's first process answers
        self.itself = False  # none: the runner, pid 1, signals the rest of its container

    @contextlib.contextmanager
    def frozen(self) -> Iterator[bool]:
        """While in it, every process of the install is stopped (True) or cannot be."""
        stopped = self._ask(b"s")
        try:
            yield stopped
        finally:
            if stopped:
                self._ask(b"c")

    def stop(self) -> None:
        """Stop them again, within :meth:`frozen` (one may have continued others)."""
        self._ask(b"s")

    def resume(self) -> None:
        """Continue them, within :meth:`frozen`, until :meth:`stop`."""
        self._ask(b"c")

    def _ask(self, what: bytes) -> bool:
        if self.works:
            try:
                self.runner.sendall(what)
                if self.runner.recv(1) == what:
                    return True
            except TimeoutError:  # there, and silent: never given up on quietly
                raise RequirementsFailed(
                    "the install's processes could not be stopped to be measured"
                ) from None
            except OSError:
                pass
            self.works = False  # no first process of a namespace (closed), or it ended
            self.itself = os.getpid() == 1
        if self.itself:  # all but pid 1 (this one) and the caller (this one)
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGSTOP if what == b"s" else signal.SIGCONT)
        return self.itself

    def close(self) -> None:
        self.runner.close()
        self.reaper.close()


def descendants() -> set[int]:
    return set(procs.children(os.getpid(), recursive=True))


def _new(before: set[int]) -> set[int]:
    """Live descendants not in ``before`` (a dead one re-parented to the runner is reaped
    here; those in ``before`` are left to whoever waits for them)."""
    return {pid for pid in descendants() - before if procs.alive(pid)}


async def sweep(before: set[int], passes: int = 50) -> list[int]:
    """Kill the runner's descendants not in ``before`` until a few passes in a row find
    none; those still found after ``passes`` (a process outrunning the sweep: the caller
    must not trust what it may have written). The runner as its container's pid 1 with
    none to keep (a pod's ``layers`` container) kills every other process of the
    container at once: no process changing its pid outruns that."""
    everyone = os.getpid() == 1 and not any(procs.alive(pid) for pid in before)
    quiet = 0
    for _ in range(passes):
        found = _new(before)
        quiet = 0 if found else quiet + 1
        if quiet == 3:
            return []
        if found and everyone:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
        elif found:
            procs.signal_all(found, signal.SIGKILL)
        await asyncio.sleep(0.02)
    return sorted(_new(before))
