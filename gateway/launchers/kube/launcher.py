"""The Kubernetes launcher: one pod per running dashboard, from the admin's runner image.

Configured as ``c.KubeLauncher.…``. Every API call goes through
kubernetes-asyncio with a timeout. Pods are named after their dashboard, so
a create is idempotent: a 409 means the pod exists — adopted when it is alive
(another gateway replica started it), replaced when it is a dead leftover.
Status comes from one :class:`~gateway.launchers.kube.reflector.PodReflector`;
nothing polls per dashboard. The launch spec (with the runner credential) is a
Secret mounted into the pod, never part of the pod spec.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import replace
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from gateway.domain.dashboards import Dashboard
from gateway.domain.runtime import Runtime
from gateway.launchers.base import (
    LauncherError,
    Observed,
)
from gateway.launchers.guards import Guards
from gateway.launchers.kube import clones
from gateway.launchers.kube.apiserver import KubeApi, api_message
from gateway.launchers.kube.manifests import (
    ANNOTATIONS,
    CONTAINER,
    FETCH_CONTAINER,
    LAUNCH_ANNOTATION,
    LAUNCH_LABEL,
    LAYERS_CONTAINER,
    MANAGED,
    RUNNER,
    RunnerPlan,
    make_pod,
    make_spec_secret,
    object_name,
    selector,
    spec_secret_name,
)
from gateway.launchers.kube.netpolicy import make_network_policy
from gateway.launchers.kube.plans import PodPlans
from gateway.launchers.kube.reflector import PodReflector, describe_error
from gateway.launchers.kube.status import describe

# What a failed start's removed pod printed last, kept in its runtime record.
KEPT_LOG, KEPT_LINES, KEPT_CHARS = "log", 200, 32_000


class PodLauncher(PodPlans):
    """Runner pods, configured by the options it inherits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api: KubeApi | None = None
        self._reflector: PodReflector | None = None
        self._policy_done = False
        self._created: dict[str, str] = {}  # pods created here, not yet seen by the watch
        # Rebuilds asked here (a restart follows at once): their next pod's requirements.txt
        # is installed afresh. Kept in memory: a gateway that dies between the two forgets.
        self._rebuild: set[tuple[str, str]] = set()
        self._guards = Guards()

    # --- the API -----------------------------------------------------------------------
    @property
    def api(self) -> KubeApi:
        if self._api is None:
            path = self.kubeconfig or os.environ.get("KUBECONFIG", "")
            self._api = KubeApi(path, self.namespace, self.api_timeout)
        return self._api

    async def _connect(self) -> None:
        await self.api.connect()
        self.namespace = self.api.namespace

    async def reflector(self) -> PodReflector:
        if self._reflector is None:
            await self._connect()
            selector = ",".join(f"{k}={v}" for k, v in MANAGED.items())
            self._reflector = PodReflector(
                await self.api.core(), self.namespace, selector, request_timeout=self.api_timeout
            )
        self._reflector.start()
        try:
            await self._reflector.ready(timeout=self.api_timeout * 3)
        except Exception as e:
            raise LauncherError(
                f"cannot read the runner pods from Kubernetes ({describe_error(e)})"
            ) from e
        return self._reflector

    # --- the launcher interface --------------------------------------------------------
    async def start(self, dashboard: Dashboard, launch_id: str, credential: str) -> Runtime:
        reflector = await self.reflector()
        own = dashboard.source.type == "storage" and not dashboard.source.volume
        claim = (
            await clones.owners_claim(self.api, self.user_claim, dashboard.owner, self.slug_scheme)
            if own
            else ""
        )
        plan = self.plan(dashboard, launch_id, claim)
        await self._ensure_network_policy()
        existing = reflector.pods.get(plan.pod_name)
        if existing is not None:
            if describe(existing).running:
                return self._adopted(plan, existing)  # e.g. another gateway replica started it
            await self._delete_pod(plan.pod_name)
        if plan.storage.mode == "clone":
            await self._ensure_clone(plan)
        specs = self.specs(dashboard, plan, credential, dashboard.key in self._rebuild)
        try:
            created = await self.api.create("Pod", make_pod(plan))
        except client.ApiException as e:
            raise LauncherError(f"Kubernetes refused the runner pod: {api_message(e)}") from e
        if not created:
            # Another gateway created it a moment ago: adopt it once the watch shows it.
            await reflector.wait_for(lambda pods: plan.pod_name in pods, self.api_timeout)
            found = reflector.pods.get(plan.pod_name)
            if found is not None and describe(found).running:
                return self._adopted(plan, found)
            raise LauncherError("a runner pod of this dashboard is still being deleted")
        self.log.info("created pod %s for %s/%s", plan.pod_name, *dashboard.key)
        self._created[plan.pod_name] = launch_id
        # Lookups read the watch: wait until it shows the new pod, so that the first one
        # does not take "not there yet" for "gone". Its spec follows, owned by it (the
        # kubelet mounts it once it is there).
        await reflector.wait_for(lambda pods: plan.pod_name in pods, self.api_timeout)
        pod = reflector.pods.get(plan.pod_name) or await self._read_pod(plan.pod_name)
        try:
            if pod is None:
                raise LauncherError("the runner pod was gone as soon as it was made")
            await self._store_spec(plan, specs, pod["metadata"]["uid"])
        except LauncherError:
            await self._delete_pod(plan.pod_name)
            raise
        self._rebuild.discard(dashboard.key)
        return Runtime(
            launch_id,
            "",
            self.port,
            time.time(),
            {"pod": plan.pod_name, "namespace": self.namespace},
        )

    def _adopted(self, plan: RunnerPlan, pod: dict[str, Any]) -> Runtime:
        annotations = pod["metadata"].get("annotations") or {}
        address = describe(pod).address
        host, port = address or ("", self.port)
        self.log.info("adopting running pod %s", plan.pod_name)
        return Runtime(
            annotations.get(LAUNCH_ANNOTATION, plan.launch_id),
            host,
            port,
            time.time(),
            {"pod": plan.pod_name, "namespace": self.namespace},
        )

    async def inspect(self, dashboard: Dashboard, runtime: Runtime) -> Observed:
        reflector = await self.reflector()
        name = self._pod_name(dashboard, runtime)
        pod = reflector.pods.get(name)
        if pod is None and self._created.get(name) == runtime.launch_id:
            # Created here, and the watch has not shown it yet (a busy API server): ask.
            pod = await self._read_pod(name)
            if pod is None:
                self._created.pop(name, None)
        elif pod is not None:
            self._created.pop(name, None)
        if pod is None:
            return Observed(running=False, message="the runner pod is gone")
        launch = (pod["metadata"].get("annotations") or {}).get(LAUNCH_ANNOTATION)
        if launch != runtime.launch_id:
            return Observed(running=False, message="the runner pod belongs to another launch")
        observed = describe(pod)
        pending = (pod.get("status") or {}).get("phase", "Pending") == "Pending"
        source = dashboard.source
        cloned = self.storage == "clone" and source.type == "storage" and not source.volume
        if cloned and pending and observed.running:
            problem = await clones.problem(self.api, *dashboard.key)
            if problem:
                return Observed(running=False, message=problem)
        if observed.running and not observed.ready and observed.address:
            # Its runner says how far it got (cloning, installing requirements.txt, …).
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                said = await self._guards.health(*observed.address, dashboard.url(self.prefix))
                if said.get("state") in ("preparing", "starting") and said.get("reason"):
                    observed = replace(observed, message=str(said["reason"]))
        return observed

    async def layer(self, dashboard: Dashboard) -> dict[str, Any] | None:
        """Its running pod's guard says (a stopped dashboard's pod, and its word, are gone)."""
        pod = (await self.reflector()).pods.get(object_name("", *dashboard.key))
        address = describe(pod).address if pod is not None else None
        if address is None:
            return None
        return await self._guards.layer(*address, dashboard.url(self.prefix))

    async def _read_pod(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.api.read("Pod", name)
        except client.ApiException as e:
            raise LauncherError(f"cannot read the runner pod: {api_message(e)}") from e

    def _pod_name(self, dashboard: Dashboard, runtime: Runtime) -> str:
        return str(runtime.details.get("pod") or object_name("", *dashboard.key))

    async def stop(self, dashboard: Dashboard, runtime: Runtime) -> None:
        self._created.pop(self._pod_name(dashboard, runtime), None)
        await self._delete_pod(self._pod_name(dashboard, runtime))
        await self._delete("Secret", spec_secret_name(*dashboard.key, runtime.launch_id))

    async def _delete_pod(self, name: str) -> None:
        await self._delete("Pod", name)
        reflector = await self.reflector()
        if not await reflector.wait_for(lambda pods: name not in pods, self.stop_timeout):
            raise LauncherError(f"the runner pod {name} did not stop in {self.stop_timeout:.0f} s")

    async def _delete(self, kind: str, name: str) -> None:
        try:
            await self.api.delete(kind, name)
        except client.ApiException as e:
            raise LauncherError(f"cannot delete {kind} {name}: {api_message(e)}") from e

    async def logs(self, dashboard: Dashboard, runtime: Runtime | None, lines: int) -> list[str]:
        if runtime is None:
            return []
        if KEPT_LOG in runtime.details:  # a failed start's pod, removed: what it printed
            return [str(line) for line in runtime.details[KEPT_LOG]][-lines:]
        # Its clone's log, its install's (pip's), then the runner's.
        git, layers = dashboard.source.type == "git", bool(self.layers_claim)
        containers = [FETCH_CONTAINER] * git + [LAYERS_CONTAINER] * layers + [CONTAINER]
        text = ""
        for container in containers:
            try:
                text += await self.api.pod_log(self._pod_name(dashboard, runtime), container, lines)
            except client.ApiException as e:
                if e.status == 404:
                    return []  # no pod
                if e.status != 400:  # 400: that container has not started (yet)
                    raise LauncherError(f"cannot read the runner's log: {api_message(e)}") from e
        return text.splitlines()[-lines:]

    async def release(self, dashboard: Dashboard, runtime: Runtime) -> Runtime:
        """A failed start's pod is removed (its node's room and its Secret with it), its
        log's tail kept in the runtime record for the owner's log page."""
        if KEPT_LOG in runtime.details:
            return runtime
        kept = await self.logs(dashboard, runtime, KEPT_LINES)
        while kept and sum(len(line) for line in kept) > KEPT_CHARS:
            kept.pop(0)
        name = self._pod_name(dashboard, runtime)
        self._created.pop(name, None)
        await self._delete("Pod", name)  # not waited for: it has stopped, or never started
        await self._delete("Secret", spec_secret_name(*dashboard.key, runtime.launch_id))
        return replace(runtime, details={**runtime.details, KEPT_LOG: kept})

    async def discard(self, dashboard: Dashboard) -> None:
        self._rebuild.add(dashboard.key)
        await self._delete_secrets(*dashboard.key)
        if self.storage == "clone":
            await self._delete("PersistentVolumeClaim", object_name("clone", *dashboard.key))

    async def _delete_secrets(self, owner: str, name: str) -> None:
        """Every launch spec of a dashboard (left by launches that ended without a stop)."""
        labels = ",".join(f"{k}={v}" for k, v in selector(owner, name).items())
        await self.api.delete_secrets(labels)

    async def reconcile(self, known: set[tuple[str, str]]) -> None:
        reflector = await self.reflector()
        # Launch specs an older Podium left behind (unowned, so never collected).
        unowned = ",".join(f"{k}={v}" for k, v in RUNNER.items()) + f",!{LAUNCH_LABEL}"
        with contextlib.suppress(LauncherError, client.ApiException):
            await self.api.delete_secrets(unowned)
        for name, pod in list(reflector.pods.items()):
            annotations = pod["metadata"].get("annotations") or {}
            key = tuple(annotations.get(a, "") for a in ANNOTATIONS[:2])
            if key not in known:
                self.log.warning("removing pod %s: its dashboard %s/%s is gone", name, *key)
                with contextlib.suppress(LauncherError, client.ApiException):
                    await self._delete("Pod", name)
                    await self._delete_secrets(*key)
                    if self.storage == "clone":
                        await self._delete("PersistentVolumeClaim", object_name("clone", *key))

    async def close(self) -> None:
        await self._guards.close()
        if self._reflector is not None:
            await self._reflector.stop()
        if self._api is not None:
            await self.api.close()

    # --- helpers -----------------------------------------------------------------------
    async def _ensure_network_policy(self) -> None:
        if self._policy_done or not self.network_policy:
            return
        body = make_network_policy(
            self.namespace, self.gateway_labels, self.port, private_ips=self.egress_private_ips
        )
        try:
            if not await self.api.create("NetworkPolicy", body):  # there already: the same?
                kept = await self.api.read("NetworkPolicy", body["metadata"]["name"])
                if kept is None or kept.get("spec") != body["spec"]:  # an older Podium's
                    await self.api.delete("NetworkPolicy", body["metadata"]["name"])
                    await self.api.create("NetworkPolicy", body)
        except client.ApiException as e:
            raise LauncherError(f"cannot create the NetworkPolicy: {api_message(e)}") from e
        self._policy_done = True

    async def _store_spec(self, plan: RunnerPlan, specs: tuple[str, str], pod_uid: str) -> None:
        body = make_spec_secret(plan, specs[0], pod_uid, specs[1])
        try:
            if not await self.api.create("Secret", body):  # a retried launch: replace it
                await self._delete("Secret", plan.spec_secret)
                await self.api.create("Secret", body)
        except client.ApiException as e:
            raise LauncherError(f"cannot store the launch spec: {api_message(e)}") from e

    async def _ensure_clone(self, plan: RunnerPlan) -> None:
        await clones.ensure(self.api, plan, self.clone_storage_class, self.clone_size)
