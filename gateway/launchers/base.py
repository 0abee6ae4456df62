"""What every launcher does: start, look at, stop and read the logs of one runner.

A launcher turns a dashboard into a running ``podium-runner`` and answers
questions about it. It keeps no state of its own that a gateway restart would
lose: what it needs to find a runner again (a pid, a pod name) goes into the
``Runtime`` record the lifecycle stores with the dashboard.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from traitlets.config import LoggingConfigurable

from gateway.dashboards import Dashboard


@dataclass(frozen=True)
class Endpoint:
    """Where the gateway reaches a runner's guard, and the credential it must present."""

    host: str
    port: int
    credential: str

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Observed:
    """A launcher's view of one runner: running (maybe not ready yet), or gone and why."""

    running: bool
    ready: bool = False
    message: str = ""


@dataclass
class Runtime:
    """The launcher's record of one launch, stored with the dashboard (JSON)."""

    launch_id: str
    host: str
    port: int
    started: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "launch_id": self.launch_id,
            "host": self.host,
            "port": self.port,
            "started": self.started,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Runtime | None:
        if not doc or "launch_id" not in doc:
            return None
        return cls(
            doc["launch_id"],
            doc["host"],
            int(doc["port"]),
            float(doc["started"]),
            doc.get("details", {}),
        )


def runner_credential(secret: bytes, dashboard: Dashboard, launch_id: str) -> str:
    """The per-launch credential: derived, so it is never stored and survives gateway restarts."""
    message = f"podium-runner:{dashboard.owner}/{dashboard.name}:{launch_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class LauncherError(Exception):
    """A runner could not be started; the message is shown to the owner."""


class Launcher(LoggingConfigurable):
    """One subclass per place runners run (local processes, Kubernetes pods), configured
    like JupyterHub's spawners: ``c.LocalLauncher.…``."""

    async def start(self, dashboard: Dashboard, launch_id: str, credential: str) -> Runtime:
        """Start a runner; return as soon as it is launched (readiness is watched separately)."""
        raise NotImplementedError

    async def inspect(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        """Whether the runner of ``runtime`` is alive, and ready."""
        raise NotImplementedError

    async def stop(self, dashboard: Dashboard, runtime: Runtime) -> None:
        """Stop the runner and everything it started; idempotent."""
        raise NotImplementedError

    async def logs(self, dashboard: Dashboard, runtime: Runtime | None, lines: int) -> list[str]:
        """The last ``lines`` lines the runner printed (for the owner only)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the launcher's own resources; runners keep running."""
        return None
