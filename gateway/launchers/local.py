"""The local launcher (the default): one ``podium-runner`` process per running dashboard.

Each runner gets its own folder under ``state_dir`` (its spec, its log, a git checkout),
a free loopback port, and its own session, so it outlives a gateway restart and is found
again by pid (checked against its start time: a recycled pid is never mistaken for it).
Its environment is built from scratch: nothing of the gateway's (its hub token above all)
reaches it. What confines its code: confinement.py (and the runner's own sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from gateway.domain.dashboards import Dashboard
from gateway.domain.runtime import Runtime
from gateway.errors import Misconfigured, NotFound
from gateway.launchers.base import (
    LauncherError,
    Observed,
    git_source,
    refused,
    runner_spec,
)
from gateway.launchers.confinement import check, sandbox_spec
from gateway.launchers.folders import (
    LAYER,
    REBUILD,
    make_folder,
    open_file,
    open_log,
    read_layer,
    read_tail,
    write_spec,
)
from gateway.launchers.guards import Guards
from gateway.launchers.local_options import LocalOptions
from gateway.launchers.warm import WarmPool
from gateway.web.files import FileEntry, has_file, list_folder
from runners.contract import DIRECT_PREFIX, NETWORK_ENV, PORTS_ENV
from runners.errors import EnvironmentMissing, SpecError
from runners.names import UnusableName, folder_name
from runners.ports import free_loopback_port

REFILL_DELAY = 3.0  # seconds after a warm runner is taken before the next one starts


class LocalLauncher(LocalOptions):
    """Runner processes on this machine, configured by the options it inherits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guards = Guards()
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._exits: dict[int, int] = {}  # exit codes of children, by pid (the last 1000)
        # Each runner runs as its owner: none can be started ahead.
        size = 0 if self.run_as_owner and os.geteuid() == 0 else self.warm_runners
        self._warm = WarmPool(size, self._spawn_warm, self.log)

    def folder(self, dashboard: Dashboard) -> Path:
        return Path(self.state_dir).resolve() / folder_name(dashboard.owner) / dashboard.name

    def layers(self, owner: str) -> Path:
        """The owner's cached requirements layers (runners.layers); no dashboard's name
        starts with a dot."""
        return Path(self.state_dir).resolve() / folder_name(owner) / ".layers"

    def storage(self, owner: str) -> Path:
        """The owner's storage: ``user_root`` with the owner's folder name (runners.names),
        which never climbs out of the root, even next to the template's own text."""
        path = self.user_root.format(username=folder_name(owner))
        if {".", ".."} & set(path.split("/")):
            raise UnusableName(f"{path!r} is not a plain path: {owner!r} has no storage here")
        return Path(path)

    def root(self, owner: str, volume: str = "") -> Path:
        """Where a storage source's folders are: the shared folder ``volume``, or else
        the owner's storage."""
        if not volume:
            return self.storage(owner)
        if volume not in self.shared_folders:
            raise UnusableName(f"this hub no longer shares a folder named {volume!r}")
        return Path(self.shared_folders[volume])

    async def browse(self, owner: str, path: str, volume: str = "") -> list[FileEntry] | None:
        return await asyncio.to_thread(list_folder, self._root(owner, volume), path)

    async def has_file(self, owner: str, path: str, volume: str = "") -> bool | None:
        return await asyncio.to_thread(has_file, self._root(owner, volume), path)

    def _root(self, owner: str, volume: str) -> Path:
        try:
            return self.root(owner, volume)
        except UnusableName as e:
            raise NotFound(str(e)) from None

    def spec(self, dashboard: Dashboard, port: int, credential: str) -> dict[str, Any]:
        if dashboard.source.type == "git":
            dest = str(self.folder(dashboard) / "checkout")
            source = git_source(
                dashboard, dest, self.git_schemes, self.git_hosts, self.git_internal, self.crypt
            )
        else:
            root = str(self.root(dashboard.owner, dashboard.source.volume))
            source = {"type": "directory", "root": root, "path": dashboard.source.path}
        spec = runner_spec(
            dashboard,
            prefix=self.prefix,
            source=source,
            port=port,
            credential=credential,
            ready_timeout=self.ready_timeout,
            crypt=self.crypt,
        )
        environment = self.environment(dashboard)
        if environment is not None:
            spec.update(python=environment.python, environment=environment.name)
        if self.requirements is not None:  # the owner's layers: theirs alone to share
            rebuild = (self.folder(dashboard) / REBUILD).exists()
            spec["requirements"] = self.requirements.spec(
                str(self.layers(dashboard.owner)), rebuild
            )
        if self.sandbox:
            git = dashboard.source.type == "git"
            spec["sandbox"] = sandbox_spec(
                readable=([] if git else [source["root"]])
                + ([environment.prefix] if environment else []),
                writable=[source["dest"]] if git else [],
                home=str(self.folder(dashboard) / "home"),
                ports=self.framework_ports,
                network=self.network,
            )
        return spec

    def _environ(self, home: Path) -> dict[str, str]:
        """From scratch (but the frameworks' ports and network: a warm runner prepares them)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
        }
        if self.sandbox:
            env[PORTS_ENV] = "{}-{}".format(*self.framework_ports)
            env[NETWORK_ENV] = self.network
        return env

    async def start(self, dashboard: Dashboard, launch_id: str, credential: str) -> Runtime:
        try:
            folder = self.folder(dashboard)
            spec = self.spec(dashboard, free_loopback_port(), credential)
        except UnusableName as e:
            raise LauncherError(str(e)) from None
        details: dict[str, Any] = {}
        if self.direct_connections:
            spec["direct"] = details["direct"] = DIRECT_PREFIX + launch_id
        shutil.rmtree(folder / "checkout", ignore_errors=True)  # a rebuild clones afresh
        port = int(spec["port"])
        as_user: list[str] = []
        owner: tuple[int, int] | None = None
        home = ""
        if self.run_as_owner and os.geteuid() == 0:
            try:
                account = pwd.getpwnam(dashboard.owner)
            except KeyError:
                raise LauncherError(
                    f"there is no system user {dashboard.owner!r} to run as"
                ) from None
            owner, home = (account.pw_uid, account.pw_gid), account.pw_dir
            # setpriv (util-linux) drops to the owner and execs the runner: the same process,
            # and it works on every event loop (uvloop refuses subprocess user/group options).
            as_user = [
                "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                "--clear-groups", "--",
            ]  # fmt: skip
        try:  # never following what the owner may have planted in their folder (folders.py)
            make_folder(folder, owner)
            if "requirements" in spec:
                make_folder(self.layers(dashboard.owner), owner)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / REBUILD)  # a link, if planted: only the link goes
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / LAYER)  # the runner says again which, if any
            spec_path = write_spec(folder, json.dumps(spec), owner)
            log = open_log(folder, owner)
        except OSError as e:
            raise LauncherError(f"the runner's folder is not usable: {e}") from e
        with os.fdopen(log, "ab") as f:
            f.write(f"\n--- launch {launch_id} at {time.ctime()} ---\n".encode())
        env = {**self._environ(folder), "PODIUM_LAUNCH_SPEC_FILE": str(spec_path)}
        if home:
            env["HOME"] = home
        process = None if as_user else await self._warm.hand(folder, spec_path)
        if process is None:
            process = await self._spawn(folder, env, as_user)
        self._warm.refill(after=REFILL_DELAY)  # not now: the framework's start needs the CPU
        details.update(pid=process.pid, created=psutil.Process(process.pid).create_time())
        return Runtime(launch_id, "127.0.0.1", port, time.time(), details)

    async def _spawn(
        self, folder: Path, env: dict[str, str], as_user: list[str], *, warm: bool = False
    ) -> asyncio.subprocess.Process:
        try:
            log = open_log(folder, None)
        except OSError as e:
            raise LauncherError(f"the runner's log is not usable: {e}") from e
        with os.fdopen(log, "ab") as log_file:
            try:
                process = await asyncio.create_subprocess_exec(
                    *as_user,
                    *self.runner_command,
                    *(["--warm"] if warm else []),
                    cwd=folder,
                    env=env,
                    stdin=asyncio.subprocess.PIPE if warm else asyncio.subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,  # survives the gateway; stopped as a group
                )
            except OSError as e:
                raise LauncherError(f"could not start the runner: {e.strerror}") from e
        self._exits.pop(process.pid, None)  # a recycled pid's old code is not this one's
        self._children[process.pid] = process
        asyncio.get_running_loop().create_task(self._reap(process))
        return process

    async def _spawn_warm(self) -> asyncio.subprocess.Process:
        pool = Path(self.state_dir).resolve() / ".warm"
        pool.mkdir(parents=True, exist_ok=True)
        return await self._spawn(pool, self._environ(pool), [], warm=True)

    async def open(self) -> None:
        why = await asyncio.to_thread(check, self.sandbox, self.network, self.log)
        if why:
            raise Misconfigured(why)
        self._warm.refill()

    async def _reap(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        self._children.pop(process.pid, None)
        self._exits[process.pid] = code
        while len(self._exits) > 1000:
            del self._exits[next(iter(self._exits))]

    async def _ended(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        """A runner that is gone. One that refused its launch spec (exit code 2, known for
        a runner this gateway started) says why in its log's last error line."""
        pid = int(runtime.details.get("pid", 0))
        code = self._exits.get(pid)
        child = self._children.get(pid)
        if child is not None:  # exited, not reaped yet: its code comes in a moment (read
            with contextlib.suppress(TimeoutError):  # here: _reap may record it later, CI)
                code = await asyncio.wait_for(child.wait(), 5)
        if code == EnvironmentMissing.exit_code:  # e.g. no streamlit there
            why = await asyncio.to_thread(self._error_line, dashboard, runtime.launch_id)
            return Observed(running=False, message=why, permanent=True)
        if code == SpecError.exit_code:
            why = await asyncio.to_thread(self._error_line, dashboard, runtime.launch_id)
            return refused(why)
        return Observed(running=False, message="the runner exited: its log says why")

    def _error_line(self, dashboard: Dashboard, launch_id: str) -> str:
        """The runner's last ``podium-runner: error:`` line of this launch, if any."""
        marker, said = f"--- launch {launch_id} ", "podium-runner: error: "
        found = ""
        for line in read_tail(self.folder(dashboard), 500):
            if line.startswith(marker):
                found = ""
            elif line.startswith(said):
                found = line[len(said) :].strip()
        return found

    def _process(self, runtime: Runtime) -> psutil.Process | None:
        try:
            process = psutil.Process(int(runtime.details["pid"]))
            if abs(process.create_time() - float(runtime.details["created"])) > 1:
                return None  # the pid was recycled by another program
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except (psutil.Error, KeyError, ValueError):
            return None

    async def inspect(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        return await self.changed(dashboard, runtime, 0)

    async def changed(self, dashboard: Dashboard, runtime: Runtime, within: float) -> Observed:
        """Asks the runner's guard, which holds the answer until its state changes (a long
        poll): a start is seen to end the moment it does, without polling on a timer."""
        if self._process(runtime) is None:
            return await self._ended(dashboard, runtime)
        try:
            body = await self._guards.health(
                runtime.host, runtime.port, dashboard.url(self.prefix), within
            )
            return Observed(
                running=True, ready=bool(body.get("ready")), message=str(body.get("reason", ""))
            )
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return Observed(running=True, ready=False, message="the runner is starting")

    async def stop(self, dashboard: Dashboard, runtime: Runtime) -> None:
        process = self._process(runtime)
        if process is None:
            return
        self._signal(process.pid, signal.SIGTERM)
        child = self._children.get(process.pid)
        if child is not None:
            # Our own child: only its event-loop handle may reap it (a second waiter, such
            # as psutil, would steal the exit status and leave this wait hanging).
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                self._kill_tree(process)
                await child.wait()
            return
        # A runner adopted from an earlier gateway: not our child, so poll for it.
        _, alive = await asyncio.to_thread(psutil.wait_procs, [process], 15)
        if alive:
            self._kill_tree(process)

    def _kill_tree(self, process: psutil.Process) -> None:
        """The runner did not stop in time: kill it and everything under it (its framework
        runs in a process group of its own, which killing the runner's group would miss)."""
        with contextlib.suppress(psutil.Error):
            for child in process.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
        self._signal(process.pid, signal.SIGKILL)

    @staticmethod
    def _signal(pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)  # the runner leads its own session: its whole group

    async def discard(self, dashboard: Dashboard) -> None:
        """At a rebuild: its requirements.txt is installed afresh at the next start."""
        with contextlib.suppress(OSError):
            os.close(open_file(self.folder(dashboard), REBUILD, os.O_WRONLY | os.O_CREAT))

    async def layer(self, dashboard: Dashboard) -> dict[str, Any] | None:
        return read_layer(self.folder(dashboard))

    async def logs(self, dashboard: Dashboard, runtime: Runtime | None, lines: int) -> list[str]:
        return await asyncio.to_thread(read_tail, self.folder(dashboard), lines)

    async def close(self) -> None:
        """Running dashboards keep running; waiting runners see their stdin close and exit."""
        await self._warm.close()
        await self._guards.close()
