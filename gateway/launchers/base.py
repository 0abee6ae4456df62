"""What every launcher does: start, look at, stop and read the logs of one runner.

A launcher turns a dashboard into a running ``podium-runner`` and answers
questions about it. It keeps no state of its own that a gateway restart would
lose: what it needs to find a runner again (a pid, a pod name) goes into the
``Runtime`` record the lifecycle stores with the dashboard.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from traitlets import Float, TraitError
from traitlets.config import LoggingConfigurable

from gateway.domain.dashboards import Dashboard
from gateway.domain.runtime import Runtime
from gateway.domain.secrets import Crypt, Unreadable, reveal
from gateway.errors import LauncherError as LauncherError  # launchers raise it from here
from gateway.launchers.environments import Environment, RequirementsPolicy
from gateway.web.files import FileEntry


@dataclass(frozen=True)
class Observed:
    """A launcher's view of one runner: running (maybe not ready yet), or gone and why.

    ``address``: where the runner is reached when the launcher learns it only once the
    runner runs (a pod's IP); the lifecycle then records it. ``permanent``: gone for a
    reason a new start will not change (the runner refused its launch spec, exit code 2):
    the lifecycle does not retry it by itself.
    """

    running: bool
    ready: bool = False
    message: str = ""
    address: tuple[str, int] | None = None
    permanent: bool = False


def runner_spec(
    dashboard: Dashboard,
    *,
    prefix: str,
    source: dict[str, Any],
    port: int,
    credential: str,
    ready_timeout: float,
    host: str = "127.0.0.1",
    host_env: str = "",
    crypt: Crypt | None = None,
) -> dict[str, Any]:
    """The launch spec of a dashboard's runner (docs/runner.md), wherever it runs: the
    one place a dashboard's secrets are decrypted (the spec is the owner's and the
    runner's only: a 0600 file, a Kubernetes Secret)."""
    secrets, _ = revealed(dashboard, crypt)
    spec: dict[str, Any] = {
        "framework": dashboard.framework,
        "entry": dashboard.entry,
        "source": source,
        "prefix": dashboard.url(prefix),
        "host": host,
        "port": port,
        "credential": credential,
        "env": {**dashboard.env, **secrets},
        "ready_timeout": ready_timeout,
    }
    if host_env:
        spec["host_env"] = host_env
    if dashboard.framework == "custom":
        spec["custom"] = {"command": list(dashboard.command)}
    return spec


def revealed(
    dashboard: Dashboard, crypt: Crypt | None
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """A dashboard's secrets decrypted for its launch spec, or why they cannot be."""
    try:
        return reveal(dashboard.secrets, crypt)
    except Unreadable as e:
        raise LauncherError(str(e)) from None


def git_source(
    dashboard: Dashboard,
    dest: str,
    schemes: list[str],
    hosts: list[str],
    internal: list[str],
    crypt: Crypt | None = None,
) -> dict[str, Any]:
    """A spec's git source: the gateway's policy (``c.Podium.git_allowed_*``) goes along,
    so that the runner enforces it again; a private repository's login, for git only."""
    _, login = revealed(dashboard, crypt)
    source = {
        "type": "git",
        "url": dashboard.source.url,
        "ref": dashboard.source.ref,
        "path": dashboard.source.path,
        "dest": dest,
        "allowed_schemes": list(schemes),
        "allowed_hosts": list(hosts),
        "internal_hosts": list(internal),
    }
    if login is not None:
        source["username"], source["password"] = login
    return source


def runner_credential(secret: bytes, dashboard: Dashboard, launch_id: str) -> str:
    """The per-launch credential: derived, so it is never stored and survives gateway restarts."""
    message = f"podium-runner:{dashboard.owner}/{dashboard.name}:{launch_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def refused(why: str) -> Observed:
    """A runner that refused its launch spec (exit code 2), in its own words."""
    prefix = "the launch spec was refused"
    message = why if why.startswith(prefix) else f"{prefix}: {why or 'the runner log says why'}"
    return Observed(running=False, message=message, permanent=True)


class Launcher(LoggingConfigurable):
    """One subclass per place runners run (local processes, Kubernetes pods), configured
    like JupyterHub's spawners: ``c.LocalLauncher.…``."""

    ready_timeout = Float(300, help="Seconds a framework may take to become ready.").tag(
        config=True
    )

    def __init__(
        self,
        prefix: str = "/dashboards/",
        git_schemes: list[str] | None = None,
        git_hosts: list[str] | None = None,
        git_internal: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.crypt: Crypt | None = None  # decrypts dashboards' secrets (c.Podium.crypt_key)
        self.environments: dict[str, Environment] = {}  # c.Podium.environments, by name
        self.requirements: RequirementsPolicy | None = None  # c.Podium.requirements
        # The gateway's own git policy (c.Podium.git_allowed_*), enforced again by the runner.
        self.git_schemes = list(git_schemes or ["https", "ssh"])
        self.git_hosts = list(git_hosts or [])
        self.git_internal = list(git_internal or [])

    def environment(self, dashboard: Dashboard) -> Environment | None:
        """The dashboard's environment (its own, else the first offered); None when the
        admin offers none (the app runs in the runner's own)."""
        if not self.environments:
            return None
        if not dashboard.environment:
            return next(iter(self.environments.values()))
        found = self.environments.get(dashboard.environment)
        if found is None:
            raise LauncherError(
                f"this hub no longer offers the environment {dashboard.environment!r}: "
                "pick another in the dashboard's settings"
            )
        return found

    async def start(self, dashboard: Dashboard, launch_id: str, credential: str) -> Runtime:
        """Start a runner; return as soon as it is launched (readiness is watched separately)."""
        raise NotImplementedError

    async def inspect(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        """Whether the runner of ``runtime`` is alive, and ready."""
        raise NotImplementedError

    async def changed(self, dashboard: Dashboard, runtime: Runtime, within: float) -> Observed:
        """What :meth:`inspect` says once the runner's state has changed, or after at most
        ``within`` seconds (the lifecycle follows a start with it). This default looks
        after ``within``; a launcher that can be told of a change answers sooner."""
        if within > 0:
            await asyncio.sleep(within)
        return await self.inspect(dashboard, runtime)

    async def stop(self, dashboard: Dashboard, runtime: Runtime) -> None:
        """Stop the runner and everything it started; idempotent."""
        raise NotImplementedError

    async def logs(self, dashboard: Dashboard, runtime: Runtime | None, lines: int) -> list[str]:
        """The last ``lines`` lines the runner printed (for the owner only)."""
        raise NotImplementedError

    async def release(self, dashboard: Dashboard, runtime: Runtime) -> Runtime:
        """A start that failed has been reported: free what it holds (a pod, its node's
        room), keeping in the returned runtime what :meth:`logs` needs to show why."""
        return runtime

    async def browse(self, owner: str, path: str, volume: str = "") -> list[FileEntry] | None:
        """The folders and runnable files at ``path`` of the owner's storage (or of the
        shared ``volume``), for the form's file picker; ``None`` when this launcher cannot
        see storage from the gateway."""
        return None

    async def has_file(self, owner: str, path: str, volume: str = "") -> bool | None:
        """Whether ``path`` is a file of the owner's storage (or of the shared ``volume``);
        ``None`` when it cannot tell."""
        return None

    async def layer(self, dashboard: Dashboard) -> dict[str, Any] | None:
        """Which requirements layer the dashboard's app last ran on (``key``, ``built``,
        ``reused``), when this launcher can tell."""
        return None

    async def discard(self, dashboard: Dashboard) -> None:
        """Drop what the launcher keeps for a dashboard between launches (a cloned volume):
        at a rebuild, so the next start begins afresh, and when the dashboard is deleted."""
        return None

    async def open(self) -> None:
        """At gateway start, before any dashboard starts (e.g. warm a pool)."""
        return None

    async def reconcile(self, known: set[tuple[str, str]]) -> None:
        """At gateway start: remove runners whose dashboard no longer exists."""
        return None

    async def close(self) -> None:
        """Release the launcher's own resources; runners keep running."""
        return None


SHARED_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def check_shared_names(option: str, names: Any) -> None:
    """A shared volume's name is part of the API (``source.volume``): a DNS label."""
    for name in names:
        if not isinstance(name, str) or not SHARED_NAME.fullmatch(name):
            raise TraitError(
                f"{option}: {name!r} is no name for a shared volume (1 to 63 lowercase "
                "letters, digits or dashes)"
            )
