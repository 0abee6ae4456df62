"""Pod status in words a creator understands: one table, one pure function."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.launchers.kube.status import describe

pytestmark = pytest.mark.unit


def pod(
    phase: str = "Running", state: dict[str, Any] | None = None, **status: Any
) -> dict[str, Any]:
    container = {"name": "runner", "state": state or {"running": {}}}
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "runner", "ports": [{"containerPort": 8888}]}]},
        "status": {"phase": phase, "containerStatuses": [container], **status},
    }


READY = [{"type": "Ready", "status": "True"}]
INITIALIZING = {"waiting": {"reason": "PodInitializing"}}


def fetch(state: dict[str, Any]) -> list[dict[str, Any]]:
    """A git source's init container (the clone) in ``state``."""
    return [{"name": "fetch", "state": state}]


@pytest.mark.parametrize(
    ("given", "running", "ready", "message"),
    [
        (pod(podIP="10.0.0.5", conditions=READY), True, True, ""),
        (pod(podIP="10.0.0.5"), True, False, "the dashboard is starting"),
        (pod(conditions=READY), True, False, "the dashboard is starting"),  # no IP yet
        # A git source: its clone first, in an init container.
        (pod("Pending", INITIALIZING, initContainerStatuses=fetch({"running": {}})), True,
         False, "fetching the source (git)"),
        (pod("Failed", INITIALIZING, initContainerStatuses=fetch({"terminated": {
            "exitCode": 3, "message": "could not fetch main of https://x/y.git"}})), False,
         False, "the source could not be fetched: could not fetch main of https://x/y.git"),
        (pod("Failed", INITIALIZING, initContainerStatuses=fetch({"terminated": {
            "exitCode": 2, "message": "git URL scheme 'ftp' is not allowed"}})), False,
         False, "the launch spec was refused: git URL scheme 'ftp' is not allowed"),
        (pod("Pending", INITIALIZING, initContainerStatuses=fetch({"waiting": {
            "reason": "ErrImagePull", "message": "not found"}})), False, False,
         "the runner image cannot be pulled (ErrImagePull): not found"),
        (pod(podIP="10.0.0.5", conditions=READY, initContainerStatuses=fetch(
            {"terminated": {"exitCode": 0}})), True, True, ""),
        (pod("Pending", {"waiting": {"reason": "ContainerCreating"}}), True, False,
         "the pod is being created (image, storage)"),
        (pod("Pending", {"waiting": {"reason": "ErrImagePull", "message": "not found"}}),
         False, False, "the runner image cannot be pulled (ErrImagePull): not found"),
        (pod("Pending", {"waiting": {"reason": "ImagePullBackOff"}}), False, False,
         "the runner image cannot be pulled (ImagePullBackOff)"),
        (pod("Running", {"waiting": {"reason": "CrashLoopBackOff"}}), False, False,
         "the dashboard keeps crashing (CrashLoopBackOff)"),
        (pod("Pending", {"waiting": {"reason": "CreateContainerConfigError",
                                     "message": 'secret "x" not found'}}),
         False, False, 'the runner pod cannot start: secret "x" not found'),
        (pod("Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                     "reason": "Unschedulable", "message": "0/3 nodes: memory"}]),
         True, False, "waiting for a node with room for it: 0/3 nodes: memory"),
        (pod("Pending", conditions=[{"type": "PodScheduled", "status": "False",
                                     "reason": "Unschedulable", "message":
                                     '0/3 nodes are available: persistentvolumeclaim "claim-bob" '
                                     "not found. preemption: 0/3 nodes are available"}]),
         False, False, "the storage claim claim-bob does not exist: its owner has no storage "
         "on this hub yet (starting their server once in JupyterHub makes it), or the admin's "
         "c.KubeLauncher.user_claim does not name claims the way the hub does"),
        (pod("Failed", {"terminated": {"reason": "OOMKilled", "exitCode": 137}}), False, False,
         "the dashboard ran out of memory (OOMKilled): choose a profile with more memory, "
         "or make the app use less"),
        (pod("Failed", {"terminated": {"reason": "Error", "exitCode": 4}}), False, False,
         "the runner stopped (exit code 4)"),
        (pod("Failed", {"terminated": {"reason": "Error", "exitCode": 4, "message":
                                       "the entry file 'x.py' does not exist"}}), False, False,
         "the runner stopped (exit code 4): the entry file 'x.py' does not exist"),
        # A scheduler of its own (Z2JH's user-scheduler) that does not pick it up.
        ({**pod("Pending", INITIALIZING), "spec": {"schedulerName": "jhub-user-scheduler"}},
         True, False, "waiting for the scheduler jhub-user-scheduler to place it (is it "
         "running? c.KubeLauncher.scheduler_name names it)"),
    ],
)  # fmt: skip
def test_describe(given: dict[str, Any], running: bool, ready: bool, message: str) -> None:
    observed = describe(given)
    assert (observed.running, observed.ready, observed.message) == (running, ready, message)


def test_ready_pods_say_where_they_are() -> None:
    assert describe(pod(podIP="10.0.0.5", conditions=READY)).address == ("10.0.0.5", 8888)


def test_a_pod_being_deleted_is_not_running() -> None:
    deleting = pod(podIP="10.0.0.5", conditions=READY)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not describe(deleting).running


def test_a_refused_launch_spec_is_a_permanent_failure() -> None:
    """Exit code 2: the runner refused its spec and wrote why to /dev/termination-log."""
    why = "the launch spec was refused: spec.host_env names $POD_IP, which is not set"
    ended = {"terminated": {"reason": "Error", "exitCode": 2, "message": why}}
    observed = describe(pod("Failed", ended))
    assert (observed.running, observed.permanent, observed.message) == (False, True, why)
    silent = describe(pod("Failed", {"terminated": {"reason": "Error", "exitCode": 2}}))
    assert silent.permanent and silent.message.startswith("the launch spec was refused")
    assert not describe(pod("Failed", {"terminated": {"exitCode": 4}})).permanent
