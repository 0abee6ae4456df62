"""A runner pod's state in words a dashboard's creator understands (pure).

Kubernetes says what went wrong in the pod's status: the scheduler's
condition (Unschedulable), the container's waiting reason (ErrImagePull,
ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError) or its
terminated reason (OOMKilled, Error). :func:`describe` turns one pod into an
:class:`~gateway.launchers.base.Observed`: still going (maybe with a message
while it waits), ready (with its address), or gone and why.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.launchers.base import Observed, refused
from gateway.launchers.kube.manifests import LAYERS_CONTAINER
from runners.errors import EnvironmentMissing, SourceError, SpecError

MISSING_CLAIM = re.compile(r'persistentvolumeclaim "([^"]+)" not found')
PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CONFIG_FAILURES = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")


def no_claim(name: str) -> str:
    return (
        f"the storage claim {name} does not exist: its owner has no storage on this hub yet "
        "(starting their server once in JupyterHub makes it), or the admin's "
        "c.KubeLauncher.user_claim does not name claims the way the hub does"
    )


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _unfinished(inits: list[dict[str, Any]]) -> dict[str, Any]:
    """The init container (the git clone) still to finish, or the one that failed."""
    for init in inits:
        ended = (init.get("state") or {}).get("terminated") or {}
        if ended.get("exitCode") != 0:
            return init
    return {}


def _address(pod: dict[str, Any]) -> tuple[str, int] | None:
    """Where the pod's guard listens, once the pod has an address."""
    ip = (pod.get("status") or {}).get("podIP") or ""
    ports = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("ports") or [{}]
    port = int(ports[0].get("containerPort", 0))
    return (ip, port) if ip and port else None


def describe(pod: dict[str, Any]) -> Observed:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return Observed(running=False, message="the runner pod is being deleted")
    phase = status.get("phase", "Pending")
    container = (status.get("containerStatuses") or [{}])[0]
    fetch = _unfinished(status.get("initContainerStatuses") or [])
    state = (fetch or container).get("state") or {}
    if fetch and "running" in state:
        if fetch.get("name") == LAYERS_CONTAINER:  # its guard tells the install's progress
            return Observed(
                running=True, message="installing requirements.txt", address=_address(pod)
            )
        return Observed(running=True, message="fetching the source (git)")
    if phase in ("Failed", "Succeeded") or "terminated" in state:
        ended = state.get("terminated") or {}
        if fetch and ended.get("exitCode") == SourceError.exit_code:
            why = str(ended.get("message") or "").strip() or "see the log"
            return Observed(running=False, message=f"the source could not be fetched: {why}")
        if ended.get("reason") == "OOMKilled":
            return Observed(
                running=False,
                message="the dashboard ran out of memory (OOMKilled): choose a profile with "
                "more memory, or make the app use less",
            )
        if ended.get("exitCode") == EnvironmentMissing.exit_code:  # its image lacks a module
            why = str(ended.get("message") or "").strip() or "the environment cannot run it"
            return Observed(running=False, message=why, permanent=True)
        if ended.get("exitCode") == SpecError.exit_code:  # the same spec fails the same way
            return refused(str(ended.get("message") or "").strip())
        why = str(ended.get("message") or "").strip()  # the runner's error line
        return Observed(
            running=False,
            message=f"the runner stopped (exit code {ended.get('exitCode', '?')})"
            + (f": {why}" if why else ""),
        )
    waiting = state.get("waiting") or {}
    reason, detail = waiting.get("reason", ""), waiting.get("message", "")
    if reason in PULL_FAILURES:
        return Observed(
            running=False,
            message=f"the runner image cannot be pulled ({reason}): {detail}".rstrip(": "),
        )
    if reason == "CrashLoopBackOff":
        return Observed(running=False, message="the dashboard keeps crashing (CrashLoopBackOff)")
    if reason in CONFIG_FAILURES:
        return Observed(running=False, message=f"the runner pod cannot start: {detail or reason}")
    scheduled = _condition(status, "PodScheduled")
    if scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason", "")
        missing = MISSING_CLAIM.search(why)
        if missing is not None:
            return Observed(running=False, message=no_claim(missing.group(1)))
        return Observed(running=True, message=f"waiting for a node with room for it: {why}")
    scheduler = (pod.get("spec") or {}).get("schedulerName", "default-scheduler")
    if phase == "Pending" and not scheduled and scheduler != "default-scheduler":
        return Observed(
            running=True,
            message=f"waiting for the scheduler {scheduler} to place it (is it running? "
            "c.KubeLauncher.scheduler_name names it)",
        )
    if phase == "Pending":
        return Observed(running=True, message=detail or "the pod is being created (image, storage)")
    ready = _condition(status, "Ready").get("status") == "True"
    address = _address(pod)
    ready = ready and address is not None
    message = "" if ready else "the dashboard is starting"
    return Observed(running=True, ready=ready, message=message, address=address)
