"""A dashboard's ``requirements.txt``, installed on top of its environment, once.

Before the app starts, the runner makes (or finds) a **layer**: a venv of the
environment's interpreter whose ``.pth`` file puts the environment's own site-packages
after the layer's, so the base's packages stay visible and the dashboard's are added
(or win, for a version the base has otherwise). pip runs with ``--python`` from Podium's
interpreter (the environment needs no pip) and the admin's options (``pip_args``: an
internal mirror, ``--no-index --find-links``), in the framework's sandbox (an sdist's
``setup.py`` is code too) that may write only the layer being made.

A layer is cached under the owner's folder by the hash of what makes it: the base
interpreter, its Python version and installed distributions, the requirements and the
admin's pip options; a restart, a wake-up or the owner's second dashboard with the same
file finds it in milliseconds. One runner builds a given layer at a time (an ``flock``;
the others wait, then use it), in a folder of its own, used only once ``current`` points
at it, after pip succeeded and the marker is written: a build cut short (the runner
killed, the machine rebooted) is never used, and goes at the next install of its layer.

Only requirements are taken from the file — names with versions, extras, markers, hashes
and ``name @ https://…`` — never options (the index is the admin's), other files or local
paths: the layer must be a function of the file's text, or two dashboards sharing a
cached layer would not be sharing the same thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners import pidns
from runners import room as rooms
from runners.errors import RequirementsFailed
from runners.framework import Framework
from runners.netns import Door
from runners.pidns import Freezer
from runners.reqlines import FILE, pip_failure, requirement_lines
from runners.room import IN_USE, KEY_LOCK, hold, make_room, remove_unless_held, room
from runners.sandbox import Sandbox, abi, describe, system_paths
from runners.spec import Requirements
from runners.usage import install_usage, make_ours, pause, remove, size_of

MAX_FILE = 256 * 1024
REPORT = "layer.json"  # in the runner's folder: which layer the app runs on
MADE = ".podium-layer-made.json"  # in a pod's HOME: what its init container did (--layer-only)
MARKER, CURRENT = ".podium-layer.json", "current"  # a finished build's; the key's layer
FORMAT = 1  # of the key: a new format makes new layers
PIP_CONFIG = ("/etc/pip.conf", "/etc/xdg/pip")  # the admin's (an index, a proxy): pip's only
SHM = ("/dev/shm",)  # noqa: S108  multiprocessing's semaphores (a setup.py's Pool); memory
DAY = 86400.0  # a build no longer current goes after a day
_BASE = (
    "import json, site, sys, sysconfig\n"
    "paths = {sysconfig.get_path('purelib'), sysconfig.get_path('platlib'),"
    " *site.getsitepackages()}\n"
    "print(json.dumps({'version': sys.version, 'paths': sorted(p for p in paths if p)}))"
)


@dataclass(frozen=True)
class Layer:
    python: str  # the layer's interpreter: the app's
    root: str  # what the app's sandbox must read
    key: str
    built: str  # when (ISO 8601, UTC)
    reused: bool


async def _output(argv: Sequence[str], seconds: float = 60.0) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RequirementsFailed(f"{argv[0]} did not answer within {seconds:.0f} s") from None
    text = out.decode(errors="replace")
    if process.returncode != 0:
        tail = text.strip().splitlines()[-1:] or ["no output"]
        raise RequirementsFailed(f"{' '.join(argv[:3])} failed: {tail[0]}")
    return text


async def base_of(python: str) -> dict[str, Any]:
    """The environment a layer goes on: its Python version, its site-packages and the
    distributions installed there (part of the layer's key: an upgraded base makes new
    layers)."""
    found = json.loads(await _output([python, "-I", "-c", _BASE]))
    dists: list[str] = []
    for path in found["paths"]:
        with contextlib.suppress(OSError):
            dists += (n for n in os.listdir(path) if n.endswith((".dist-info", ".egg-info")))
    return {"python": os.path.realpath(python), "version": found["version"],
            "paths": found["paths"], "dists": sorted(dists)}  # fmt: skip


def layer_key(base: Mapping[str, Any], lines: Sequence[str], pip_args: Sequence[str]) -> str:
    what = {"format": FORMAT, "python": base["python"], "version": base["version"],
            "dists": base["dists"], "requirements": list(lines), "pip": list(pip_args)}  # fmt: skip
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]


def finished(build: Path) -> dict[str, Any] | None:
    """A build's marker: present only once its install succeeded (never read through a
    link: the build is pip's to write)."""
    try:
        fd = os.open(build / MARKER, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb") as f:
            found: dict[str, Any] = json.loads(f.read(1_000_000))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def measured(build: Path) -> tuple[int, bool]:
    """A build's bytes as it is now (not its marker's word: on Kubernetes an install may
    have written into the owner's other builds), and whether it is finished."""
    for fix in (False, True):
        if fix:  # (build code in a pod made some of it unreadable: the runner's again)
            make_ours(build)
        with contextlib.suppress(OSError, RequirementsFailed):
            return size_of(build), finished(build) is not None
    return 2**62, finished(build) is not None  # not to be measured: the first to go


def mark(build: Path, marker: Mapping[str, Any]) -> None:
    """Write a finished build's marker: a file of the runner's own, made here (an install
    that left one, or a link in its place, is refused: root would write through it)."""
    for name in (MARKER, IN_USE):
        if os.path.lexists(build / name):
            raise RequirementsFailed(f"the install of {FILE} made {name} itself: refused")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with open(os.open(build / MARKER, flags, 0o644), "w") as f:
        f.write(json.dumps(marker))


Say = Callable[[str], None]


@dataclass
class Builder:
    """Finds or makes the layer for one requirements file (see the module's text)."""

    requirements: Requirements
    base_python: str
    sandbox: Sandbox | None
    environ: Mapping[str, str]
    say: Say  # the owner's log
    status: Say  # the progress the gateway shows
    log_lines: int = 60

    async def layer(self, text: str) -> Layer:
        lines = requirement_lines(text)
        base = await base_of(self.base_python)
        key = layer_key(base, lines, self.requirements.pip_args)
        folder = Path(self.requirements.cache) / key
        if self.requirements.made:  # the pod's init container made it; read-only here
            if (found := self._current(folder, key, "running on")) is None:
                raise RequirementsFailed(f"the layer of {FILE} its init container made is gone")
            return found
        if not self.requirements.rebuild and (found := self._current(folder, key)):
            return found
        rooms.restore(folder)
        folder.mkdir(parents=True, exist_ok=True)
        lock = os.open(folder / KEY_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            await self._lock(lock)
            if not self.requirements.rebuild and (found := self._current(folder, key)):
                return found  # another runner made it while this one waited
            self._sweep(folder)
            build = await asyncio.to_thread(self._room_for, folder)
            try:
                return await self._build(build, key, base, lines, text)
            finally:
                await asyncio.to_thread(rooms.sweep_strays, folder.parent)
        finally:
            os.close(lock)  # and with it the lock

    def _room_for(self, folder: Path) -> Path:
        """A new build's folder, made once the owner's layers have room for it."""
        most = self.requirements.max_bytes
        with room(folder.parent):
            make_room(folder.parent, most, max(self.requirements.max_total, most), measured)
            build = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
            build.mkdir()
        return build

    def _current(self, folder: Path, key: str, doing: str = "reusing") -> Layer | None:
        build = folder / CURRENT
        marker, root = finished(build), os.path.realpath(build)
        if marker is None or not rooms.taken(root):  # (being removed: another start made room)
            return None
        self.say(f"{FILE}: {doing} layer {key[:12]} (built {marker['built']})")
        return Layer(f"{root}/bin/python", root, key, str(marker["built"]), reused=True)

    async def _lock(self, fd: int) -> None:
        deadline, told = time.monotonic() + self.requirements.timeout, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RequirementsFailed(
                        f"another dashboard's install of the same {FILE} did not end in time"
                    ) from None
                if not told:
                    told = True
                    self.status(f"waiting for another dashboard's install of the same {FILE}")
                await asyncio.sleep(0.2)

    def _sweep(self, folder: Path) -> None:
        """Builds no longer current for a day that no runner holds (a dashboard running for
        weeks on a build a rebuild replaced keeps it), and builds never finished (a runner
        killed mid-install; none is being made, this runner holds the key): gone."""
        current = os.path.realpath(folder / CURRENT)
        for build in folder.iterdir():
            if build.is_dir() and not build.is_symlink() and str(build) != current:
                with contextlib.suppress(OSError):
                    if finished(build) is None or time.time() - build.stat().st_mtime > DAY:
                        remove_unless_held(build)

    async def _build(
        self, build: Path, key: str, base: Mapping[str, Any], lines: list[str], text: str
    ) -> Layer:
        began = time.monotonic()
        folder = build.parent
        self.say(f"{FILE}: installing {len(lines)} requirement(s) into layer {key[:12]}")
        self.status(f"installing {FILE}")
        await _output([self.base_python, "-m", "venv", "--without-pip", str(build)])
        python = build / "bin" / "python"
        where = "import sysconfig; print(sysconfig.get_path('purelib'))"
        site = (await _output([str(python), "-I", "-c", where])).strip()
        # The base's packages after the layer's own (a .pth's folders join sys.path last).
        Path(site, "_podium_base.pth").write_text("".join(f"{p}\n" for p in base["paths"]))
        (build / FILE).write_text("".join(f"{line}\n" for line in lines))
        pointer = folder / f".{CURRENT}-{secrets.token_hex(4)}"
        try:
            await self._pip(build, python, lines, text)
            rooms.restore(folder)  # (in a pod, build code may have made it read-only)
            size = size_of(build)
            if size > self.requirements.max_bytes:
                raise RequirementsFailed(
                    f"{FILE} installed {size / 2**20:,.0f} MB, more than this hub's limit of "
                    f"{self.requirements.max_bytes / 2**20:,.0f} MB"
                )
            built = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            seconds = round(time.monotonic() - began, 1)
            mark(build, {"key": key, "built": built, "seconds": seconds, "bytes": size,
                         "requirements": lines, "base": self.base_python})  # fmt: skip
            pointer.symlink_to(build.name)
        except BaseException:
            remove(build)
            raise
        hold(str(build))
        os.replace(pointer, folder / CURRENT)  # atomic: the new build, whole, or the old one
        self.say(f"{FILE}: layer {key[:12]} made in {seconds:.1f} s ({size / 2**20:,.1f} MB)")
        return Layer(str(python), str(build), key, built, reused=False)

    async def _pip(self, build: Path, python: Path, lines: list[str], text: str) -> None:
        if importlib.util.find_spec("pip") is None:  # an environment's image without it
            raise RequirementsFailed(f"{FILE} needs pip, which this environment does not have")
        argv = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-input",
                "--disable-pip-version-check", "--progress-bar", "off", "--no-cache-dir",
                "--no-warn-script-location", *self.requirements.pip_args, "-r",
                str(build / FILE)]  # fmt: skip
        home = build / ".home"
        sandbox = self._confinement(build, python, home)
        if sandbox is not None:
            sandbox.make_home()
        environ = {**self.environ, **(sandbox.environ() if sandbox else {})}
        environ.pop("PYTHONPATH", None)
        # The app's network: in a private one, the index is reached through pasta and none
        # of this machine's loopback services (the hub's API, a database) is.
        door = None
        if sandbox is not None and sandbox.network != "host":
            door = await Door.open(0, sandbox.network == "private")
        try:
            await self._run_pip(argv, environ, build, sandbox, door, lines, text)
        finally:
            if door is not None:
                await door.close()
            remove(home)

    def _confinement(self, build: Path, python: Path, home: Path) -> Sandbox | None:
        """pip's sandbox, and any build code's it runs: it writes the build only. Locally
        the app's (its network, a private view); where the runner has none (a pod's init
        container, whose mounts are its view) Landlock alone, where the node's kernel has
        it — else the install runs as the container does, and the owner's log says so."""
        given = [a for a in self.requirements.pip_args if os.path.isabs(a)]
        readable = {*system_paths(str(python)), *given, *PIP_CONFIG,
                    os.path.dirname(os.path.realpath(self.base_python))}  # fmt: skip
        if self.sandbox is not None:
            return Sandbox(read=tuple(sorted({*readable, *self.sandbox.read})),
                           write=(str(build), *SHM), home=str(home), ports=self.sandbox.ports,
                           network=self.sandbox.network, building=True)  # fmt: skip
        if (version := abi()) < 1:
            self.say(f"{FILE}: installing without a sandbox ({describe(version)})")
            return None
        self.say(f"{FILE}: installing in a sandbox ({describe(version)})")
        return Sandbox(read=tuple(sorted(readable)), write=(str(build), *SHM), home=str(home),
                       building=True, view=False)  # fmt: skip

    async def _run_pip(
        self,
        argv: list[str],
        environ: dict[str, str],
        build: Path,
        sandbox: Sandbox | None,
        door: Door | None,
        lines: list[str],
        text: str,
    ) -> None:
        before = pidns.descendants()  # the app's network made ahead among them: kept
        # No file of pip's (or of a setup.py's) larger than the layer may be: the kernel
        # refuses it, past the hard limit too; the whole build is measured while pip runs.
        pip = Framework(argv, environ, build, max(self.log_lines, 40), sandbox, door, True,
                        file_limit=self.requirements.max_bytes)  # fmt: skip
        await pip.start()
        watcher = asyncio.ensure_future(self._follow(pip))
        reaper = pip.process.pid if pip.process else 0
        measure = asyncio.ensure_future(self._measure(build, before, pip.freezer, reaper))
        done = asyncio.ensure_future(pip.wait())
        try:
            await asyncio.wait({done, measure}, timeout=self.requirements.timeout,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if measure.done():
                await pip.stop(2)
                measure.result()  # its RequirementsFailed: too big
            if not done.done():
                raise TimeoutError
            code = done.result()
        except TimeoutError:
            await pip.stop(2)
            raise RequirementsFailed(
                f"pip did not install {FILE} within {self.requirements.timeout:.0f} s",
                log_tail=pip.tail(),
            ) from None
        finally:
            for task in (watcher, measure, done):
                task.cancel()
            left = await pidns.sweep(before)  # none, in pip's own PID namespace
        if left:
            raise RequirementsFailed(
                f"a process the install of {FILE} started would not stop (pid {left[0]}): "
                "what it made is not used"
            )
        if code != 0:
            raise RequirementsFailed(pip_failure(pip.tail(), lines, text), log_tail=pip.tail())

    async def _measure(
        self, build: Path, before: set[int], freezer: Freezer | None = None, reaper: int = 0
    ) -> None:
        """Return (raising) once the install takes more than the admin allows, or once a
        process of it stays stopped (runners.usage.install_usage); while neither, never.
        ``before``: the runner's processes that are not the install's."""
        most = self.requirements.max_bytes
        stopped: set[int] = set()
        took = 0.0
        while True:
            await asyncio.sleep(pause(took))
            began = time.monotonic()
            size, now = await asyncio.to_thread(install_usage, build, before, freezer, reaper)
            took = time.monotonic() - began
            if size > most:
                raise RequirementsFailed(
                    f"{FILE} was installing more than this hub's limit of {most / 2**20:,.0f} MB"
                )
            if stopped & now:  # stopped for a second (the re-test: build code stopped pip,
                raise RequirementsFailed(  # whose owner then waited for the timeout)
                    f"a process of the install of {FILE} was stopped (SIGSTOP): cut short"
                )
            stopped = now

    async def _follow(self, pip: Framework) -> None:
        """pip's last line as the start's progress (Collecting…, Installing…)."""
        shown = ""
        while True:
            await asyncio.sleep(0.5)
            last = next((line for line in reversed(pip.tail()) if line.strip()), "")
            if last and last != shown:
                shown = last
                self.status(f"installing {FILE}: {last.strip()[:120]}")
