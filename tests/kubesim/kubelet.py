"""A kubelet and volume provisioner for the simulated API server: pods become processes.

Each pod is scheduled on one node (its ``nodeSelector`` must match the node's
labels, else it stays Pending as Unschedulable), its image must be one the
simulator knows (else ErrImagePull, then ImagePullBackOff), its claims must
exist and be bound. Then its init containers run, one after the other, each to
its end (one that fails fails the pod: Podium's pods never restart), and its
container's command really runs as a local process
(tests/kubesim/container.py): in a PID namespace of its own, under the
namespace rules of ``RuntimeDefault``, with the container's environment
(``fieldRef`` and ``secretKeyRef`` resolved), as the pod's user, with each
volume bind-mounted at its path — a claim is a directory under the
simulator's root, an ``emptyDir`` a fresh one, a ``secret`` its keys (or the
``items`` named) as files; ``/dev/termination-log`` becomes the terminated state's
``message``, and each container has a log of its own.
Each pod gets its own loopback address (127.n.x.y) as its pod IP. The
readiness probe is polled; a memory limit is enforced by killing the process
tree (OOMKilled, 137); deletion sends SIGTERM, then SIGKILL after the grace
period. Claims with a ``dataSource`` are clones: the source directory is copied,
unless the storage class cannot clone. Events are posted as a kubelet would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from tests.kubesim.api import ApiServer, Object, now
from tests.kubesim.network import PodNetwork
from tests.kubesim.validation import quantity

ROOT_REPO = Path(__file__).resolve().parents[2]
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity}")
    return int(float(match.group(1)) * _UNITS.get(match.group(2) or "", 1))


@dataclass
class Image:
    """What a known image provides: its environment (PATH above all) and working directory.

    ``covers``: directories the pod's user could not enter on this machine (``dir``) with
    the image's files inside them (``keep``), opened up inside the pod's mount namespace.
    """

    env: dict[str, str]
    entrypoint: list[str] = field(default_factory=list)
    workdir: str = "/"
    covers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunningPod:
    obj: Object
    process: asyncio.subprocess.Process | None = None
    dir: Path = Path()
    ip: str = ""  # its address: the network's gate (tests/kubesim/network.py)
    inner: str = ""  # where its container listens ($POD_IP inside)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stopping: bool = False
    oom: bool = False
    limit: int = 0  # memory limit in bytes (0: none)


def read_log(path: Path, tail: int | None) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    if tail is None:
        return text
    return "".join(deque(text.splitlines(keepends=True), maxlen=tail))


def default_images() -> dict[str, Image]:
    """The runner image: this test environment (its Python, podium-runner, frameworks)."""
    path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    covers = []
    interpreter = Path(os.path.realpath(sys.executable))
    for parent in reversed(interpreter.parents):
        if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
            keep = interpreter.parents[len(interpreter.parents) - len(parent.parts) - 1]
            covers.append({"dir": str(parent), "keep": [str(keep)]})
            break
    env = {"PATH": path, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    # images/runner/Dockerfile's entrypoint is tini, then podium-runner; tini is not here.
    return {"podium/runner:test": Image(env, ["podium-runner"], covers=covers)}


def tolerated(taint: Object, tolerations: list[Object]) -> bool:
    """Whether one of ``tolerations`` tolerates ``taint`` (the scheduler's rule)."""
    for t in tolerations:
        key_ok = t.get("key") == taint["key"] or (
            not t.get("key") and t.get("operator") == "Exists"
        )
        value_ok = t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", "")
        effect_ok = not t.get("effect") or t["effect"] == taint["effect"]
        if key_ok and value_ok and effect_ok:
            return True
    return False


def fits_affinity(affinity: Object, labels: dict[str, str]) -> bool:
    """The node's labels against a pod's required node affinity (terms ORed, their
    expressions ANDed); preferences do not decide."""
    required = (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    for term in required.get("nodeSelectorTerms") or []:
        if all(_expression(e, labels) for e in term.get("matchExpressions") or []):
            return True
    return False


def _expression(e: Object, labels: dict[str, str]) -> bool:
    value, op = labels.get(e["key"]), e["operator"]
    return {
        "In": value in (e.get("values") or []),
        "NotIn": value not in (e.get("values") or []),
        "Exists": value is not None,
        "DoesNotExist": value is None,
    }.get(op, False)


class Kubelet:
    def __init__(
        self,
        api: ApiServer,
        root: Path,
        *,
        namespace: str = "podium",
        images: dict[str, Image] | None = None,
        node_labels: dict[str, str] | None = None,
        clone_classes: tuple[str, ...] = ("", "csi-clone"),
        late_binding: tuple[str, ...] = ("csi-clone",),
        mount_roots: tuple[str, ...] = ("/srv",),
        taints: tuple[Object, ...] = (
            {"key": "hub.jupyter.org/dedicated", "value": "user", "effect": "NoSchedule"},
        ),
        schedulers: tuple[str, ...] = ("default-scheduler", "jhub-user-scheduler"),
    ) -> None:
        self.api = api
        self.root = root
        self.images = images if images is not None else default_images()
        # One node, a Zero to JupyterHub user node: labelled and tainted as its user pool is.
        self.node_labels = node_labels or {
            "kubernetes.io/hostname": "sim-node",
            "hub.jupyter.org/node-purpose": "user",
        }
        self.taints = taints
        # The schedulers running (Z2JH's user-scheduler among them): a pod naming another
        # stays Pending, with no condition and no event, as nobody picks it up.
        self.schedulers = schedulers
        self.clone_classes = clone_classes
        # Storage classes with volumeBindingMode WaitForFirstConsumer (GKE's, AKS's and
        # EKS's defaults): a claim is provisioned once a pod that uses it is scheduled.
        self.late_binding = late_binding
        self._provisioning: set[tuple[str, str]] = set()
        self.mount_roots = mount_roots
        self.pods: dict[tuple[str, str], RunningPod] = {}
        # Pod IPs in a /16 of the loopback block picked per cluster, so that two clusters
        # (or a crashed earlier run's pods) do not hand out the same address.
        self._net = random.randrange(2, 155)  # inner addresses: 100 above
        self._next_ip = 1
        self._tasks: set[asyncio.Task[Any]] = set()
        self._memory: asyncio.Task[None] | None = None
        self.network = PodNetwork(self.policies, lambda: list(self.pods.values()), namespace)
        api.listeners.append(self.on_change)

    # --- reacting to the API -----------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def on_change(self, kind: str, plural: str, obj: Object) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if plural == "pods" and kind == "ADDED":
            pod = RunningPod(obj)
            self.pods[key] = pod
            pod.tasks.append(self._spawn(self.run(pod)))
        elif plural == "pods" and kind == "MODIFIED" and "deletionTimestamp" in obj["metadata"]:
            pod = self.pods.get(key)
            if pod is not None and not pod.stopping:
                pod.stopping = True
                self._spawn(self.terminate(pod, obj))
        elif plural == "persistentvolumeclaims" and kind == "ADDED":
            if (obj["spec"].get("storageClassName") or "") in self.late_binding:
                self.event(obj, "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding", "Normal")  # fmt: skip
            else:
                self._spawn(self.provision(obj))
        elif plural == "persistentvolumeclaims" and kind == "DELETED":
            shutil.rmtree(self.claim_dir(*key), ignore_errors=True)

    def policies(self, namespace: str) -> list[Object]:
        return [o for (plural, ns, _), o in self.api.objects.items()
                if plural == "networkpolicies" and ns == namespace]  # fmt: skip

    def claim_dir(self, namespace: str, claim: str) -> Path:
        return self.root / "volumes" / namespace / claim

    def event(self, obj: Object, reason: str, message: str, type_: str = "Warning") -> None:
        meta = obj["metadata"]
        name = f"{meta['name']}.{os.urandom(6).hex()}"
        self.api.create(
            "events",
            meta["namespace"],
            {
                "metadata": {"name": name},
                "involvedObject": {
                    "kind": obj["kind"],
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta.get("uid", ""),
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": "kubelet"},
                "firstTimestamp": now(),
                "lastTimestamp": now(),
                "count": 1,
            },
        )

    def _set_status(self, pod: RunningPod, **changes: Any) -> None:
        meta = pod.obj["metadata"]
        current = self.api.get("pods", meta["namespace"], meta["name"])
        if current is None:
            return
        current["status"].update(changes)
        pod.obj = current
        self.api.update("pods", current)

    # --- claims ------------------------------------------------------------------------
    async def provision(self, claim: Object) -> None:
        meta, spec = claim["metadata"], claim["spec"]
        ns = meta["namespace"]
        if (ns, meta["name"]) in self._provisioning:
            return
        self._provisioning.add((ns, meta["name"]))
        target = self.claim_dir(ns, meta["name"])
        source = spec.get("dataSource")
        if source:
            storage_class = spec.get("storageClassName", "")
            origin_claim = self.api.get("persistentvolumeclaims", ns, source["name"]) or {}
            problem = ""
            if storage_class not in self.clone_classes:
                problem = "volume cloning is not supported by this driver"
            elif (origin_claim.get("spec") or {}).get("storageClassName", "") != storage_class:
                problem = "the source claim is of another StorageClass (a clone must share it)"
            elif quantity(spec["resources"]["requests"]["storage"]) < quantity(
                origin_claim.get("spec", {}).get("resources", {}).get("requests", {})
                .get("storage", "0")
            ):  # fmt: skip
                problem = "the requested size is smaller than the source claim's"
            if problem:
                self.event(claim, "ProvisioningFailed",
                           f'failed to provision volume with StorageClass "{storage_class}": '
                           f"{problem}")  # fmt: skip
                return
            origin = self.claim_dir(ns, source["name"])
            if not origin.is_dir():
                self.event(claim, "ProvisioningFailed", f"source claim {source['name']} not found")
                return
            await asyncio.to_thread(shutil.copytree, origin, target, symlinks=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
        current = self.api.get("persistentvolumeclaims", ns, meta["name"])
        if current is not None:
            current["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes", [])}
            self.api.update("persistentvolumeclaims", current)

    def bind_claim(self, namespace: str, claim: str) -> None:
        """A claim made by a test for existing storage (e.g. claim-alice), bound at once."""
        self.claim_dir(namespace, claim).mkdir(parents=True, exist_ok=True)
        self.api.create(
            "persistentvolumeclaims",
            namespace,
            {
                "metadata": {"name": claim},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "resources": {"requests": {"storage": "1Gi"}},
                    "storageClassName": "csi-clone",
                },
            },
        )
        self._provisioning.add((namespace, claim))
        bound = self.api.get("persistentvolumeclaims", namespace, claim)
        assert bound is not None
        bound["status"] = {"phase": "Bound", "accessModes": ["ReadWriteMany"],
                           "capacity": {"storage": "1Gi"}}  # fmt: skip
        self.api.update("persistentvolumeclaims", bound)

    # --- pods --------------------------------------------------------------------------
    async def run(self, pod: RunningPod) -> None:
        obj = pod.obj
        spec = obj["spec"]
        if spec.get("schedulerName", "default-scheduler") not in self.schedulers:
            return
        wanted = spec.get("nodeSelector") or {}
        claims = [v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])
                  if "persistentVolumeClaim" in v]  # fmt: skip
        ns = obj["metadata"]["namespace"]
        found = {c: self.api.get("persistentvolumeclaims", ns, c) for c in claims}
        missing = [c for c, claim in found.items() if claim is None]
        for claim in found.values():  # scheduled with its first consumer: provision it now
            if claim is not None and claim["status"].get("phase") != "Bound" and not missing:
                self._spawn(self.provision(claim))
        message = ""
        if missing:  # as the scheduler's volume binding says it
            message = f'0/1 nodes are available: persistentvolumeclaim "{missing[0]}" not found.'
        elif any(self.node_labels.get(k) != v for k, v in wanted.items()) or not fits_affinity(
            spec.get("affinity") or {}, self.node_labels
        ):
            message = (
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
            )
        elif untolerated := [t for t in self.taints
                             if not tolerated(t, spec.get("tolerations") or [])]:  # fmt: skip
            taint = untolerated[0]
            message = (
                "0/1 nodes are available: 1 node(s) had untolerated taint "
                f"{{{taint['key']}: {taint.get('value', '')}}}."
            )
        if message:
            self._set_status(
                pod,
                conditions=[
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                    }
                ],
            )
            self.event(obj, "FailedScheduling", message)
            return
        scheduled = {"type": "PodScheduled", "status": "True"}
        self._set_status(pod, conditions=[scheduled])
        container = spec["containers"][0]
        inits = spec.get("initContainers") or []
        for each in [*inits, container]:
            if each["image"] not in self.images:
                await self.pull_failed(pod, each, each in inits)
                return
        try:
            sources = await self.volumes(pod, spec)
            mounts = {c["name"]: self.mounts(sources, c) for c in [*inits, container]}
            env = {c["name"]: self.environment(pod, self.images[c["image"]], c)
                   for c in [*inits, container]}  # fmt: skip
        except LookupError as e:
            waiting = {"waiting": {"reason": "ContainerCreating", "message": str(e)}}
            self._set_status(pod, containerStatuses=[self._status(container, waiting)])
            self.event(obj, "FailedMount", str(e))
            return
        if pod.stopping:
            return
        # The pod's network is there before any of its containers: whatever listens on its
        # address is reached, an init container's too (the layers' guard tells progress).
        await self.network.open(pod)
        for init in inits:  # one after the other, each to its end, before the container
            if not await self.initialize(pod, spec, init, mounts[init["name"]], env[init["name"]]):
                await self.network.close(pod)
                return
        image = self.images[container["image"]]
        await self.start(pod, spec, container, image, mounts[container["name"]],
                         env[container["name"]])  # fmt: skip

    async def pull_failed(self, pod: RunningPod, container: Object, init: bool) -> None:
        message = f'Failed to pull image "{container["image"]}": not found'
        key = "initContainerStatuses" if init else "containerStatuses"
        for reason in ("ErrImagePull", "ImagePullBackOff"):
            waiting = {"waiting": {"reason": reason, "message": message}}
            self._set_status(pod, **{key: [self._status(container, waiting)]})
            if reason == "ErrImagePull":
                self.event(pod.obj, "Failed", message)
                await asyncio.sleep(1)

    async def initialize(
        self,
        pod: RunningPod,
        spec: Object,
        init: Object,
        mounts: list[dict[str, Any]],
        env: dict[str, str],
    ) -> bool:
        """Run one init container to its end; False when it failed (the pod with it: its
        restartPolicy is Never)."""
        main = spec["containers"][0]
        waiting = {"waiting": {"reason": "PodInitializing"}}
        started = now()
        self._set_status(
            pod,
            phase="Pending",
            podIP=pod.ip,
            podIPs=[{"ip": pod.ip}],
            hostIP="127.0.0.1",
            startTime=started,
            conditions=[
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "False"},
            ],
            initContainerStatuses=[self._status(init, {"running": {"startedAt": started}})],
            containerStatuses=[self._status(main, waiting)],
        )
        code, message = await self.execute(pod, spec, init, self.images[init["image"]], mounts,
                                           env)  # fmt: skip
        ended = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                 "startedAt": started, "finishedAt": now()}  # fmt: skip
        if message:
            ended["message"] = message
        if pod.stopping:
            return False
        changes: dict[str, Any] = {
            "initContainerStatuses": [self._status(init, {"terminated": ended})]
        }
        if code != 0:
            changes.update(phase="Failed", containerStatuses=[self._status(main, waiting)])
        self._set_status(pod, **changes)
        return code == 0

    def _status(self, container: Object, state: Object, ready: bool = False) -> Object:
        return {
            "name": container["name"],
            "image": container["image"],
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": "running" in state,
            "state": state,
        }

    async def volumes(self, pod: RunningPod, spec: Object) -> dict[str, tuple[Path, bool]]:
        meta = pod.obj["metadata"]
        ns = meta["namespace"]
        pod.dir = self.root / "pods" / meta["uid"]
        (pod.dir / "volumes").mkdir(parents=True, exist_ok=True)
        sc = spec.get("securityContext", {})
        uid, group = sc.get("runAsUser", 0), sc.get("fsGroup", sc.get("runAsGroup", 0))
        sources: dict[str, tuple[Path, bool]] = {}
        for volume in spec.get("volumes", []):
            name = volume["name"]
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                for _ in range(300):  # a clone may still be provisioning
                    found = self.api.get("persistentvolumeclaims", ns, claim)
                    if found is None:
                        raise LookupError(f'persistentvolumeclaim "{claim}" not found')
                    if found["status"].get("phase") == "Bound":
                        break
                    await asyncio.sleep(0.2)
                else:
                    raise LookupError(f'persistentvolumeclaim "{claim}" is not bound')
                read_only = bool(volume["persistentVolumeClaim"].get("readOnly"))
                root = self.claim_dir(ns, claim)
                if (
                    not read_only and "fsGroup" in sc
                ):  # the volume's ownership, as the kubelet sets it
                    os.chown(root, -1, group)
                    root.chmod(0o2775)
                sources[name] = (root, read_only)
            elif "emptyDir" in volume:
                path = pod.dir / "volumes" / name
                path.mkdir()
                os.chown(path, uid, group)
                path.chmod(0o2775)
                sources[name] = (path, False)
            elif "secret" in volume:
                secret_name = volume["secret"]["secretName"]
                for _ in range(150):  # as the kubelet, it tries the mount again for a while
                    secret = self.api.get("secrets", ns, secret_name)
                    if secret is not None or pod.stopping:
                        break
                    await asyncio.sleep(0.2)
                if secret is None:
                    raise LookupError(f'secret "{secret_name}" not found')
                path = pod.dir / "volumes" / name
                path.mkdir()
                mode = volume["secret"].get("defaultMode", 0o644)
                data = secret.get("data") or {}
                items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    if item["key"] not in data:
                        raise LookupError(
                            f"couldn't find key {item['key']} in Secret {ns}/{secret_name}"
                        )
                    file = path / item["path"]
                    file.write_bytes(base64.b64decode(data[item["key"]]))
                    os.chown(file, 0, group)
                    file.chmod(mode)
                sources[name] = (path, True)
            else:
                raise LookupError(f"volume {name}: this simulator has no such volume type")
        return sources

    def mounts(self, sources: dict[str, tuple[Path, bool]], container: Object) -> list[Object]:
        mounts = []
        for m in container.get("volumeMounts", []):
            path, read_only = sources[m["name"]]
            if not any(m["mountPath"].startswith(root + "/") for root in self.mount_roots):
                raise LookupError(f"mountPath {m['mountPath']}: the simulator mounts under /srv")
            source = path / m["subPath"] if m.get("subPath") else path
            if not source.exists():  # made by the kubelet: its group, as the setgid root gives
                source.mkdir(parents=True)
                os.chown(source, -1, path.stat().st_gid)
                source.chmod(0o2775 if path.stat().st_mode & 0o2000 else 0o755)
            mounts.append(
                {
                    "source": str(source),
                    "target": m["mountPath"],
                    "read_only": read_only or bool(m.get("readOnly")),
                }
            )
        return mounts

    def environment(self, pod: RunningPod, image: Image, container: Object) -> dict[str, str]:
        meta = pod.obj["metadata"]
        if not pod.ip:
            host = f"{self._next_ip // 250}.{self._next_ip % 250 + 1}"
            pod.ip, pod.inner = f"127.{self._net}.{host}", f"127.{self._net + 100}.{host}"
            self._next_ip += 1
        env = dict(image.env)
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item.get("valueFrom", {})
            if "fieldRef" in ref:
                field_path = ref["fieldRef"]["fieldPath"]
                env[item["name"]] = {
                    "status.podIP": pod.inner,
                    "metadata.name": meta["name"],
                    "metadata.namespace": meta["namespace"],
                }[field_path]
            elif "secretKeyRef" in ref:
                key_ref = ref["secretKeyRef"]
                secret = self.api.get("secrets", meta["namespace"], key_ref["name"])
                data = (secret or {}).get("data") or {}
                if key_ref["key"] in data:
                    env[item["name"]] = base64.b64decode(data[key_ref["key"]]).decode()
                elif not key_ref.get("optional"):
                    raise LookupError(f'secret "{key_ref["name"]}" has no key {key_ref["key"]}')
        return env

    async def spawn(
        self,
        pod: RunningPod,
        spec: Object,
        container: Object,
        image: Image,
        mounts: list[dict[str, Any]],
        env: dict[str, str],
    ) -> asyncio.subprocess.Process:
        """One container's process: its log, its termination message file, its mounts."""
        sc = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
        uid, gid = sc.get("runAsUser", 0), sc.get("runAsGroup", 0)
        groups = sorted({gid, spec.get("securityContext", {}).get("fsGroup", gid)})
        name = container["name"]
        termination = pod.dir / f"termination-{name}"
        termination.touch()
        os.chown(termination, uid, gid)
        config = {
            "roots": list(self.mount_roots),
            "covers": image.covers,
            "mounts": mounts,
            "termination": {
                "source": str(termination),
                "target": container.get("terminationMessagePath", "/dev/termination-log"),
            },
            "uid": uid,
            "gid": gid,
            "groups": groups,
            "cwd": container.get("workingDir", image.workdir),
            "command": [
                *(container.get("command") or image.entrypoint),
                *container.get("args", []),
            ],
            "env": env,
        }
        cfg = pod.dir / f"container-{name}.json"
        cfg.write_text(json.dumps(config))
        log_file = pod.dir / f"log-{name}"
        meta = pod.obj["metadata"]
        self.api.logs[(meta["namespace"], meta["name"], name)] = lambda tail: read_log(
            log_file, tail
        )
        with log_file.open("ab") as log:
            pod.process = await asyncio.create_subprocess_exec(
                "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                "--propagation", "private", sys.executable, "-m", "tests.kubesim.container", str(cfg),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=str(ROOT_REPO), start_new_session=True,
                env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT_REPO)},
            )  # fmt: skip
        return pod.process

    @staticmethod
    def termination_message(pod: RunningPod, container: Object) -> str:
        """What the container wrote to its termination message file (4 KB at most)."""
        with contextlib.suppress(OSError):
            return (
                (pod.dir / f"termination-{container['name']}")
                .read_bytes()[:4096]
                .decode(errors="replace")
            )
        return ""

    async def execute(
        self,
        pod: RunningPod,
        spec: Object,
        container: Object,
        image: Image,
        mounts: list[dict[str, Any]],
        env: dict[str, str],
    ) -> tuple[int, str]:
        """Run a container (an init container) to its end: its exit code and message."""
        process = await self.spawn(pod, spec, container, image, mounts, env)
        code = await process.wait()
        return 128 - code if code < 0 else code, self.termination_message(pod, container)

    async def start(
        self,
        pod: RunningPod,
        spec: Object,
        container: Object,
        image: Image,
        mounts: list[dict[str, Any]],
        env: dict[str, str],
    ) -> None:
        await self.spawn(pod, spec, container, image, mounts, env)
        assert pod.process is not None
        started = now()
        running = {"running": {"startedAt": started}}
        self._set_status(
            pod,
            phase="Running",
            podIP=pod.ip,
            podIPs=[{"ip": pod.ip}],
            hostIP="127.0.0.1",
            startTime=started,
            conditions=self._conditions(False),
            containerStatuses=[self._status(container, running)],
        )
        await self.network.open(pod)
        pod.tasks.append(self._spawn(self.probe(pod, container)))
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        pod.limit = memory_bytes(limit) if limit else 0
        if self._memory is None:
            self._memory = self._spawn(self.enforce_memory())
        code = await pod.process.wait()
        for task in pod.tasks[1:]:
            task.cancel()
        await self.network.close(pod)  # nothing listens there any more
        reason = "OOMKilled" if pod.oom else ("Completed" if code == 0 else "Error")
        exit_code = 137 if pod.oom else (128 - code if code < 0 else code)
        terminated: Object = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started,
                "finishedAt": now(),
            }
        }
        if message := self.termination_message(pod, container):
            terminated["terminated"]["message"] = message
        if pod.stopping:
            return
        self._set_status(
            pod,
            phase="Succeeded" if exit_code == 0 else "Failed",
            conditions=self._conditions(False),
            containerStatuses=[self._status(container, terminated)],
        )
        if pod.oom:
            self.event(pod.obj, "OOMKilling", "Memory cgroup out of memory: Killed process")

    def _conditions(self, ready: bool) -> list[Object]:
        flag = "True" if ready else "False"
        return [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": flag},
            {"type": "Ready", "status": flag},
        ]

    async def probe(self, pod: RunningPod, container: Object) -> None:
        probe = container.get("readinessProbe", {}).get("httpGet")
        if probe is None:
            self._set_ready(pod, container, True)
            return
        url = f"http://{pod.inner}:{probe['port']}{probe.get('path', '/')}"  # from the node
        period = container["readinessProbe"].get("periodSeconds", 10)
        ready = False
        async with aiohttp.ClientSession() as session:
            while True:
                ok = False
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                        ok = 200 <= r.status < 400
                if ok != ready:
                    ready = ok
                    self._set_ready(pod, container, ok)
                await asyncio.sleep(period)

    def _set_ready(self, pod: RunningPod, container: Object, ready: bool) -> None:
        current = pod.obj["status"].get("containerStatuses") or []
        state = current[0]["state"] if current else {"running": {"startedAt": now()}}
        if "running" not in state:
            return
        self._set_status(
            pod,
            conditions=self._conditions(ready),
            containerStatuses=[self._status(container, state, ready)],
        )

    @staticmethod
    def kill(process: asyncio.subprocess.Process, signum: int) -> None:
        """Signal the container's whole process tree, as the end of its cgroup would
        (the runner keeps its framework in a process group of its own)."""
        with contextlib.suppress(psutil.Error):
            tree = psutil.Process(process.pid).children(recursive=True)
            for child in tree if signum == signal.SIGKILL else []:
                with contextlib.suppress(psutil.Error):
                    child.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    async def enforce_memory(self) -> None:
        """Every pod's memory against its limit, as the cgroup would: one scan of the
        process table a round for all pods (a scan per pod does not scale to hundreds)."""
        while True:
            await asyncio.sleep(0.3)
            limited = [p for p in self.pods.values() if p.limit and p.process is not None]
            if not limited:
                continue
            children: dict[int, list[int]] = {}
            rss: dict[int, int] = {}
            for proc in psutil.process_iter(["ppid", "memory_info"]):
                info = proc.info
                if info["memory_info"] is not None:
                    children.setdefault(info["ppid"], []).append(proc.pid)
                    rss[proc.pid] = info["memory_info"].rss
            for pod in limited:
                assert pod.process is not None
                used, todo = 0, [pod.process.pid]
                while todo:
                    pid = todo.pop()
                    used += rss.get(pid, 0)
                    todo += children.get(pid, [])
                if used > pod.limit and pod.process.returncode is None:
                    pod.oom = True
                    self.kill(pod.process, signal.SIGKILL)

    async def terminate(self, pod: RunningPod, obj: Object) -> None:
        grace = obj["metadata"].get("deletionGracePeriodSeconds", 30)
        process = pod.process
        if process is not None and process.returncode is None:
            self.kill(process, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                self.kill(process, signal.SIGKILL)
                await process.wait()
        for task in pod.tasks:
            task.cancel()
        await self.network.close(pod)
        meta = obj["metadata"]
        self.pods.pop((meta["namespace"], meta["name"]), None)
        for key in [k for k in self.api.logs if k[:2] == (meta["namespace"], meta["name"])]:
            self.api.logs.pop(key, None)
        current = self.api.get("pods", meta["namespace"], meta["name"])
        if current is not None:
            self.api.record("DELETED", "pods", current)
        if pod.dir != Path():
            await asyncio.to_thread(shutil.rmtree, pod.dir, True)

    async def close(self) -> None:
        """Kill every pod's process (a test's end)."""
        for pod in list(self.pods.values()):
            if pod.process is not None and pod.process.returncode is None:
                self.kill(pod.process, signal.SIGKILL)
                await pod.process.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
