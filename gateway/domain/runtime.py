"""A dashboard's runtime record: where its runner is, and how its last starts went.

The store keeps it with the dashboard as one JSON object (flat, as older versions
wrote it); this module is the one place that reads and writes that object.
``Runtime`` is what a launcher returns for one launch; ``RuntimeRecord`` adds the
failed starts in a row, when the next automatic try is due, and whether a failure
is permanent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Runtime:
    """A launcher's record of one launch (what it needs to find the runner again)."""

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
    def from_json(cls, doc: Mapping[str, Any] | None) -> Runtime | None:
        if not doc or "launch_id" not in doc:
            return None
        return cls(
            str(doc["launch_id"]),
            str(doc["host"]),
            int(doc["port"]),
            float(doc["started"]),
            dict(doc.get("details") or {}),
        )


@dataclass(frozen=True)
class RuntimeRecord:
    """The stored record: the current launch, if any, and the failures before it."""

    runtime: Runtime | None = None
    failures: int = 0  # failed starts in a row
    retry_at: float | None = None  # a visit may start it again from then (epoch seconds)
    permanent: bool = False  # only its owner or an admin starts it again

    def may_retry(self, now: float | None = None) -> bool:
        """Whether a visit may start a failed dashboard again (an explicit start always may)."""
        if self.permanent:
            return False
        return self.retry_at is None or (time.time() if now is None else now) >= self.retry_at

    def as_json(self) -> dict[str, Any]:
        doc = self.runtime.as_json() if self.runtime else {}
        if self.failures:
            doc["failures"] = self.failures
        if self.retry_at is not None:
            doc["retry_at"] = self.retry_at
        if self.permanent:
            doc["permanent"] = True
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> RuntimeRecord:
        """Read what any version wrote; a field of the wrong type counts as absent."""
        doc = doc or {}
        failures, retry_at = doc.get("failures"), doc.get("retry_at")
        return cls(
            runtime=Runtime.from_json(doc),
            failures=failures if isinstance(failures, int) and failures > 0 else 0,
            retry_at=float(retry_at) if isinstance(retry_at, (int, float)) else None,
            permanent=doc.get("permanent") is True,
        )
