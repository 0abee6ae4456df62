"""The framework process: start it, relay and remember its output, stop its whole tree.

The runner makes itself a child subreaper (Linux), so anything the framework
spawns and orphans (Jupyter kernels run in sessions of their own) is
re-parented to the runner and can still be found and stopped at the end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from runners import pidns, procs
from runners.errors import FrameworkStartError
from runners.fds import close_inherited
from runners.listens import Listens, hand_over, take_over
from runners.netns import Door, private_view
from runners.sandbox import Sandbox
from runners.sandbox import apply as apply_sandbox

_PR_SET_CHILD_SUBREAPER = 36
LOG_LIMIT = 64 << 20  # bytes of the framework's output in the runner's log, then it starts over
_SENSITIVE_ENV = (
    "PODIUM_LAUNCH_SPEC",
    "PODIUM_LAUNCH_SPEC_FILE",
    "PODIUM_RUNNER_CREDENTIAL",
    "PODIUM_GIT_USERNAME",  # a private repository's credentials: for git, not the app
    "PODIUM_GIT_PASSWORD",
    "JUPYTERHUB_API_TOKEN",
    "JPY_API_TOKEN",
    "JUPYTERHUB_CLIENT_ID",
)


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the framework's process before exec: a SIGKILL when the runner dies, however it
    dies (a runner killed -9 cannot stop its framework itself)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def framework_environ(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The runner's environment minus anything secret, plus the recipe's and owner's variables."""
    env = {k: v for k, v in base.items() if k not in _SENSITIVE_ENV}
    env.update(extra)
    return env


def _unsandboxed(error: Exception) -> FrameworkStartError:
    return FrameworkStartError(f"the framework's sandbox could not be set up ({error})")


class Framework:
    """One framework process and the last lines it printed."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log_lines: int,
        sandbox: Sandbox | None = None,
        door: Door | None = None,
        own_pids: bool = False,
        file_limit: int | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.door = door
        self.own_pids = own_pids  # an install's: a PID namespace of its own (runners.pidns)
        self.freezer = pidns.Freezer() if own_pids else None
        control = self.freezer.reaper.fileno() if self.freezer else -1
        self.argv = pidns.wrap(argv, control) if own_pids else list(argv)
        self.file_limit = file_limit  # bytes any one file may have (soft and hard)
        self.env = dict(env)
        self.cwd = cwd
        self.lines: collections.deque[str] = collections.deque(maxlen=log_lines)
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None
        self._channel: tuple[socket.socket, socket.socket] | None = None
        self._uid, self._gid = os.geteuid(), os.getegid()
        self.listens: Listens | None = None

    def _in_child(self) -> None:
        """After the fork, before the framework's program: it dies with the runner, and
        runs in its private network and its sandbox (when it has them) from its first
        instruction."""
        die_with_parent()
        if self.file_limit is not None:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            limit = self.file_limit if hard < 0 else min(hard, self.file_limit)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        os.chdir(self.cwd)  # uvloop enters cwd after this: the view must keep where it runs
        keep = [*self.sandbox.read, *self.sandbox.write, str(self.cwd)] if self.sandbox else []
        view = self.sandbox is not None and self.sandbox.view
        if self.door is not None:
            self.door.enter(keep)
        elif view:
            private_view(self._uid, self._gid, keep)
        if self.own_pids:
            pidns.enter(self.door is not None or view)
        if self.sandbox is not None:
            apply_sandbox(self.sandbox)
            assert self._channel is not None
            hand_over(self._channel[1])
        close_inherited(keep=(self.freezer.reaper.fileno(),) if self.freezer else ())

    async def start(self) -> None:
        if self.sandbox is not None:
            self._channel = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group, signalled as one
                preexec_fn=self._in_child,
                pass_fds=(self.freezer.reaper.fileno(),) if self.freezer else (),
            )
        except subprocess.SubprocessError as e:  # _in_child failed: nothing of it ran
            raise _unsandboxed(e) from e
        finally:
            if self._channel is not None:
                self._channel[1].close()
            if self.freezer is not None:
                self.freezer.reaper.close()  # the reaper's now: its end closed is the word
        if self._channel is not None and self.sandbox is not None:
            try:
                with self._channel[0] as channel:
                    self.listens = take_over(channel, self.sandbox.bind)
            except OSError as e:
                await self.stop(0)
                raise _unsandboxed(e) from e
        self._pump = asyncio.create_task(self._relay_output())

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    def tail(self) -> list[str]:
        return list(self.lines)

    async def _relay_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        out = sys.stdout.buffer
        partial = b""
        written = 0
        while chunk := await self.process.stdout.read(65536):
            written += len(chunk)
            if written > LOG_LIMIT:  # the app's output is its owner's: no disk filled
                written = len(chunk)
                with contextlib.suppress(OSError):  # a pipe (a test's) cannot be truncated
                    os.ftruncate(out.fileno(), 0)
                    os.lseek(out.fileno(), 0, os.SEEK_SET)  # for a log not opened to append
                    out.write(b"podium-runner: the log passed its limit: earlier output dropped\n")
            out.write(chunk)
            out.flush()
            *complete, partial = (partial + chunk).split(b"\n")
            self.lines.extend(line.decode("utf-8", "replace").rstrip("\r") for line in complete)
            partial = partial[-4096:]
        if partial:
            self.lines.append(partial.decode("utf-8", "replace"))

    async def wait(self, reap_every: float = 5.0) -> int:
        """Wait for the process to exit (reaping orphans meanwhile) and for its output to end."""
        assert self.process is not None
        waiter = asyncio.ensure_future(self.process.wait())
        while not waiter.done():
            await asyncio.wait((waiter,), timeout=reap_every)
            reap_orphans(self.process.pid)
        code = waiter.result()
        self._stop_listens()
        if self._pump is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pump), 2)
        return code

    async def stop(self, grace: float) -> None:
        """SIGTERM the framework's group; SIGKILL what is left of the tree after ``grace``."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), grace)
        await kill_descendants(grace, exclude=self.process.pid if self.process else None)
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        self._stop_listens()
        if self._pump is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._pump, 2)

    def _stop_listens(self) -> None:
        if self.listens is not None:
            self.listens.close()
            self.listens = None
        if self.freezer is not None:
            self.freezer.close()


def reap_orphans(exclude: int | None) -> int:
    """Collect exited orphans re-parented to the runner (it is their subreaper, or PID 1)."""
    reaped = 0
    for child in procs.children(os.getpid()):
        if child == exclude:
            continue  # asyncio waits for the framework itself
        with contextlib.suppress(ChildProcessError):
            if procs.zombie(child) and os.waitpid(child, os.WNOHANG)[0] == child:
                reaped += 1
    return reaped


async def kill_descendants(grace: float, exclude: int | None = None) -> None:
    """Stop every remaining descendant of the runner: TERM, then KILL after ``grace``."""
    found = [p for p in procs.children(os.getpid(), recursive=True) if p != exclude]
    if not found:
        return
    procs.signal_all(found, signal.SIGTERM)
    alive = await asyncio.to_thread(procs.wait_gone, found, grace)
    procs.signal_all(alive, signal.SIGKILL)
    await asyncio.to_thread(procs.wait_gone, alive, 2)
