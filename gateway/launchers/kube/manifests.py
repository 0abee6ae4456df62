"""Kubernetes manifests for one dashboard's runner: pure functions of one typed plan.

Nothing here talks to the API. :class:`RunnerPlan` says everything about one
launch (names, image, storage, profile, security); ``make_*`` turn it into the
JSON documents the API server takes. Tests compare them with golden files and
validate them against the official schema (``kubernetes-validate``).

Names and labels: a pod is ``podium-<owner>-<name>-<hash>`` cut to 63
characters (a DNS label); labels carry the owner and name when they are
label-safe, a hash otherwise, and ``podium.dev/key`` — a hash of owner/name —
is the one label every lookup selects on. Annotations keep the exact names.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.launchers.kube.placement import Placement, Profile
from runners.contract import HEALTH_PATH

MANAGED = {"app.kubernetes.io/managed-by": "podium", "app.kubernetes.io/name": "podium"}
RUNNER = {**MANAGED, "app.kubernetes.io/component": "runner"}
KEY_LABEL = "podium.dev/key"
OWNER_LABEL = "podium.dev/owner"
NAME_LABEL = "podium.dev/dashboard"
OWNER_ANNOTATION = "podium.dev/owner"
NAME_ANNOTATION = "podium.dev/dashboard"
LAUNCH_ANNOTATION = "podium.dev/launch-id"
LAUNCH_LABEL = "podium.dev/launch"  # on a launch's spec Secret
ANNOTATIONS = (OWNER_ANNOTATION, NAME_ANNOTATION, LAUNCH_ANNOTATION)
CONTAINER = "runner"
SOURCE_VOLUME = "source"
SPEC_VOLUME, SPEC_KEY = "launch-spec", "spec.json"  # the launch's spec (its Secret)
FETCH_CONTAINER = "fetch"  # a git source's clone, in an init container of its own
LAYERS_CONTAINER = "layers"  # requirements.txt installed, before the app's container
FETCH_VOLUME, FETCH_KEY = "fetch-spec", "fetch.json"  # its spec: the repository's login
# An environment's image: the runner copied into it by an init container of the runner image.
COPY_CONTAINER = "podium-runner"
RUNNER_VOLUME = "podium-runner"
NETWORK_POLICY = "podium-runners"

_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$")
_DNS = re.compile(r"[^a-z0-9-]+")


def key_hash(owner: str, name: str) -> str:
    """A short, stable, label-safe identity of a dashboard."""
    return hashlib.sha256(f"{owner}/{name}".encode()).hexdigest()[:16]


def label_value(value: str) -> str:
    """``value`` if it is a valid label value, else a hash of it (prefixed ``h-``)."""
    if _LABEL_VALUE.match(value):
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def object_name(kind: str, owner: str, name: str) -> str:
    """``podium[-kind]-<owner>-<name>-<hash>``: a DNS label (63 characters at most)."""
    readable = _DNS.sub("-", f"{owner}-{name}".lower()).strip("-")
    stem = f"podium-{kind}-" if kind else "podium-"
    room = 63 - len(stem) - 1 - 8
    return f"{stem}{readable[:room].strip('-')}-{key_hash(owner, name)[:8]}"


def spec_secret_name(owner: str, name: str, launch_id: str) -> str:
    """One Secret per launch: two gateways racing to start a dashboard never overwrite the
    spec (and credential) of the pod that wins."""
    return f"{object_name('spec', owner, name)}-{launch_id[:16]}"


def selector(owner: str, name: str) -> dict[str, str]:
    """The labels that find every object of one dashboard."""
    return {**MANAGED, KEY_LABEL: key_hash(owner, name)}


@dataclass(frozen=True)
class Storage:
    """Where the dashboard's files come from, as volumes.

    ``mode``: ``static`` (``claim`` with ``sub_path``), ``shared`` (a volume every user
    shares: ``claim`` with ``sub_path``, never writable), ``per-user`` (``claim``),
    ``clone`` (``claim`` is the new clone; ``clone_from`` its source), ``git``
    (an empty directory the runner clones into), or ``none``.
    """

    mode: str
    claim: str = ""
    sub_path: str = ""
    clone_from: str = ""
    storage_class: str = ""
    size: str = "10Gi"
    writable: bool = False


@dataclass(frozen=True)
class RunnerPlan:
    owner: str
    name: str
    namespace: str
    launch_id: str
    image: str
    storage: Storage
    profile: Profile = field(default_factory=Profile)
    spec_secret: str = ""  # the Secret holding this launch's spec (with its credential)
    image_pull_policy: str = "IfNotPresent"
    image_pull_secrets: Sequence[str] = ()
    port: int = 8888
    uid: int = 1000
    gid: int = 100
    fs_group: int = 100
    mount_root: str = "/srv/podium"
    url: str = ""  # the dashboard's path (``Dashboard.url``), where the runner serves it
    git_secret: str = ""  # a Secret with ``username`` and ``password`` for private repositories
    extra_volumes: Sequence[Mapping[str, Any]] = ()
    extra_volume_mounts: Sequence[Mapping[str, Any]] = ()
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    placement: Placement = field(default_factory=Placement)
    # An environment (c.Podium.environments): the app's container runs this image's
    # interpreter, with the runner copied in; "": the runner image itself.
    app_image: str = ""
    app_python: str = "python3"
    app_pull_policy: str = ""
    # requirements.txt's layers: the owner's folder of a claim every runner pod may mount.
    layers_claim: str = ""
    layers_sub_path: str = ""

    @property
    def pod_name(self) -> str:
        return object_name("", self.owner, self.name)

    @property
    def source_path(self) -> str:
        """Where the source is mounted in the container (git: where the runner clones)."""
        return f"{self.mount_root}/source"

    @property
    def spec_path(self) -> str:
        return f"{self.mount_root}/spec/{SPEC_KEY}"

    @property
    def runner_path(self) -> str:
        """Where an environment's image finds the runner (copied there at the pod's start)."""
        return f"{self.mount_root}/runner"

    @property
    def layers_path(self) -> str:
        return f"{self.mount_root}/layers"

    @property
    def fetch_spec_path(self) -> str:
        return f"{self.mount_root}/fetch/{FETCH_KEY}"

    def labels(self) -> dict[str, str]:
        return {
            **self.extra_labels,
            **RUNNER,
            KEY_LABEL: key_hash(self.owner, self.name),
            OWNER_LABEL: label_value(self.owner),
            NAME_LABEL: label_value(self.name),
        }

    def annotations(self) -> dict[str, str]:
        return {
            OWNER_ANNOTATION: self.owner,
            NAME_ANNOTATION: self.name,
            LAUNCH_ANNOTATION: self.launch_id,
        }


def _metadata(plan: RunnerPlan, name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": plan.namespace,
        "labels": dict(labels),
        "annotations": plan.annotations(),
    }


def _source_volume(plan: RunnerPlan) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    storage = plan.storage
    read_only = not storage.writable
    mount: dict[str, Any] = {"name": SOURCE_VOLUME, "mountPath": plan.source_path}
    if storage.mode == "git":
        return [{"name": SOURCE_VOLUME, "emptyDir": {}}], [mount]
    if storage.mode == "none":
        return [], []
    claim = {"claimName": storage.claim, "readOnly": read_only}
    if storage.sub_path:
        mount["subPath"] = storage.sub_path
    mount["readOnly"] = read_only
    return [{"name": SOURCE_VOLUME, "persistentVolumeClaim": claim}], [mount]


def _env(plan: RunnerPlan, spec_path: str) -> list[dict[str, Any]]:
    return [
        {"name": "PODIUM_LAUNCH_SPEC_FILE", "value": spec_path},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOME", "value": f"{plan.mount_root}/home"},
    ]


def _spec_volume(plan: RunnerPlan, name: str, key: str) -> dict[str, Any]:
    """One key of the launch's Secret: each container sees only its own spec."""
    items = [{"key": key, "path": key}]
    return {"name": name, "secret": {"secretName": plan.spec_secret, "items": items,
                                     "defaultMode": 0o440}}  # fmt: skip


def _fetch_container(plan: RunnerPlan, main: Mapping[str, Any]) -> dict[str, Any]:
    """The clone of a git source, before the app's container starts: the only container
    that sees the repository's login (the admin's ``git_secret``, the dashboard's own),
    so the dashboard's code, which runs in the other one as the same user, cannot."""
    env = _env(plan, plan.fetch_spec_path)
    if plan.git_secret:
        for var, key in (("PODIUM_GIT_USERNAME", "username"), ("PODIUM_GIT_PASSWORD", "password")):
            ref = {"name": plan.git_secret, "key": key, "optional": True}
            env.append({"name": var, "valueFrom": {"secretKeyRef": ref}})
    resources = plan.profile.resources()  # its memory and CPU, no GPU or other device
    for kind in ("requests", "limits"):
        if kind in resources:
            resources[kind] = {k: v for k, v in resources[kind].items() if k in ("cpu", "memory")}
    mounts = [
        {"name": SOURCE_VOLUME, "mountPath": plan.source_path},
        {"name": FETCH_VOLUME, "mountPath": f"{plan.mount_root}/fetch", "readOnly": True},
        {"name": "home", "mountPath": f"{plan.mount_root}/home"},
    ]
    return {
        "name": FETCH_CONTAINER,
        "image": plan.image,
        "imagePullPolicy": plan.image_pull_policy,
        "args": ["--fetch"],
        "env": env,
        "resources": resources,
        "volumeMounts": mounts,
        "securityContext": dict(main["securityContext"]),
    }


def _layers_container(main: Mapping[str, Any], mount: Mapping[str, Any]) -> dict[str, Any]:
    """The app's container installing requirements.txt first (its guard shows the
    progress; no GPU), the only one writing the owner's layers (an app that could would
    fill the shared claim); the runner as pid 1 (not tini), which nothing the install
    starts can stop: it stops them while it measures the install (runners.pidns)."""
    init = copy.deepcopy(dict(main))
    init.setdefault("command", ["podium-runner"])
    for name in ("ports", "readinessProbe"):
        init.pop(name, None)
    resources = init.get("resources") or {}
    for kind in ("requests", "limits"):
        if kind in resources:
            resources[kind] = {k: v for k, v in resources[kind].items() if k in ("cpu", "memory")}
    init.update(name=LAYERS_CONTAINER, args=[*init.get("args", []), "--layer-only"])
    init["volumeMounts"] = [*init["volumeMounts"], dict(mount)]
    return init


def _in_environment(plan: RunnerPlan, spec: dict[str, Any], container: dict[str, Any]) -> None:
    """The app's container from the environment's image (any with a Python 3.11 or later:
    the hub's single-user image above all): the runner, standard library only, is copied
    into a volume by an init container of the runner image, and run from there by the
    image's own interpreter — nothing of Podium's needs installing in the image."""
    mount = {"name": RUNNER_VOLUME, "mountPath": plan.runner_path}
    spec["volumes"].append({"name": RUNNER_VOLUME, "emptyDir": {}})
    copy = {
        "name": COPY_CONTAINER,
        "image": plan.image,
        "imagePullPolicy": plan.image_pull_policy,
        "args": ["--copy-to", plan.runner_path],
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"memory": "128Mi"},
        },
        "volumeMounts": [mount],
        "securityContext": dict(container["securityContext"]),
    }
    spec["initContainers"] = [copy, *spec.get("initContainers", [])]
    container.update(
        image=plan.app_image,
        imagePullPolicy=plan.app_pull_policy or plan.image_pull_policy,
        command=[plan.app_python, "-m", "runners"],  # past the image's own entrypoint
    )
    container["env"].append({"name": "PYTHONPATH", "value": plan.runner_path})
    container["volumeMounts"].append({**mount, "readOnly": True})


def make_pod(plan: RunnerPlan) -> dict[str, Any]:
    """The runner pod: non-root, no privilege escalation, no capabilities, no API token."""
    volumes, mounts = _source_volume(plan)
    volumes.append(_spec_volume(plan, SPEC_VOLUME, SPEC_KEY))
    mounts.append({"name": SPEC_VOLUME, "mountPath": f"{plan.mount_root}/spec", "readOnly": True})
    volumes.append({"name": "home", "emptyDir": {}})
    mounts.append({"name": "home", "mountPath": f"{plan.mount_root}/home"})
    volumes += [dict(v) for v in plan.extra_volumes]
    mounts += [dict(m) for m in plan.extra_volume_mounts]
    health = f"{plan.url}{HEALTH_PATH}"
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": plan.image,
        "imagePullPolicy": plan.image_pull_policy,  # its entrypoint: tini, then podium-runner
        "env": _env(plan, plan.spec_path),
        "ports": [{"name": "http", "containerPort": plan.port, "protocol": "TCP"}],
        "resources": plan.profile.resources(),
        "volumeMounts": mounts,
        "readinessProbe": {
            "httpGet": {"path": health, "port": plan.port},
            "periodSeconds": 2,
            "failureThreshold": 1,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": plan.uid,
            "runAsGroup": plan.gid,
        },
    }
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Never",  # the gateway decides: failed, then a retry with backoff
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": plan.uid,
            "runAsGroup": plan.gid,
            "fsGroup": plan.fs_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if plan.storage.mode == "git":
        spec["initContainers"] = [_fetch_container(plan, container)]
        volumes.append(_spec_volume(plan, FETCH_VOLUME, FETCH_KEY))
    if plan.app_image:
        _in_environment(plan, spec, container)
    if plan.layers_claim:  # the owner's own layers: what their dashboards install, reused
        claim = {"claimName": plan.layers_claim}
        spec["volumes"].append({"name": "layers", "persistentVolumeClaim": claim})
        mount = {"name": "layers", "mountPath": plan.layers_path, "subPath": plan.layers_sub_path}
        installs = _layers_container(container, mount)
        spec["initContainers"] = [*spec.get("initContainers", []), installs]
        container["volumeMounts"].append({**mount, "readOnly": True})
        container["args"] = [*container.get("args", []), "--layer-made"]
    if plan.profile.node_selector:
        spec["nodeSelector"] = dict(plan.profile.node_selector)
    if plan.profile.tolerations:
        spec["tolerations"] = [dict(t) for t in plan.profile.tolerations]
    if plan.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in plan.image_pull_secrets]
    metadata = _metadata(plan, plan.pod_name, plan.labels())
    metadata["annotations"] = {**plan.placement.annotations, **metadata["annotations"]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": plan.placement.apply(spec)}  # fmt: skip


def make_clone_pvc(plan: RunnerPlan) -> dict[str, Any]:
    """A new claim whose content is a clone of the owner's claim (CSI volume cloning)."""
    storage = plan.storage
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
        "dataSource": {"kind": "PersistentVolumeClaim", "name": storage.clone_from},
    }
    if storage.storage_class:
        spec["storageClassName"] = storage.storage_class
    labels = {**RUNNER, KEY_LABEL: key_hash(plan.owner, plan.name)}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(plan, storage.claim, labels),
        "spec": spec,
    }


def make_spec_secret(
    plan: RunnerPlan, spec_json: str, pod_uid: str, fetch_json: str = ""
) -> dict[str, Any]:
    """The launch spec (it holds the runner credential): a Secret, never the pod spec;
    immutable, and owned by its pod, so Kubernetes deletes it with the pod (a failed
    launch leaves nothing behind). A git source's clone has a spec of its own."""
    labels = {**RUNNER, KEY_LABEL: key_hash(plan.owner, plan.name), LAUNCH_LABEL: plan.launch_id}
    metadata = _metadata(plan, plan.spec_secret, labels)
    metadata["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Pod", "name": plan.pod_name, "uid": pod_uid}
    ]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "immutable": True,
        "metadata": metadata,
        "stringData": {SPEC_KEY: spec_json, **({FETCH_KEY: fetch_json} if fetch_json else {})},
    }
