"""The Kubernetes API as the launcher uses it: one namespace, raw JSON, every call bounded.

Every call asks kubernetes-asyncio for the raw response (``_preload_content=False``: no
model objects built on each call), reads it within ``timeout`` seconds and checks its
status itself — the library does not check raw responses. Errors come out as the
library's ``ApiException`` (callers decide what 404 and 409 mean), or as a
:class:`~gateway.launchers.base.LauncherError` when the API does not answer in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

from gateway.launchers.base import LauncherError

# The watch holds one connection for minutes; starts and stops at scale need many more
# connections than the library's default (5 per core).
POOL = 64
IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def check(status: int, body: bytes) -> None:
    """Raise the API's error for a raw response that is not a success."""
    if status < 400:
        return
    try:
        message = str(json.loads(body).get("message", ""))
    except ValueError:
        message = body[:200].decode(errors="replace")
    raise client.ApiException(status=status, reason=message)


def api_message(error: client.ApiException) -> str:
    """The message of a Kubernetes ``Status`` answer, else the HTTP reason."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return str(json.loads(error.body or b"")["message"])
    return f"{error.status} {error.reason}"


class KubeApi:
    def __init__(self, kubeconfig: str, namespace: str, timeout: float) -> None:
        self.kubeconfig = kubeconfig  # "" : the in-cluster service account
        self.namespace = namespace  # "" : the kubeconfig context's, or the pod's own
        self.timeout = timeout
        self._api: client.ApiClient | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> client.ApiClient:
        async with self._lock:
            if self._api is None:
                settings = client.Configuration()
                if self.kubeconfig:
                    await config.load_kube_config(
                        config_file=self.kubeconfig, client_configuration=settings
                    )
                    if not self.namespace:
                        _, context = config.list_kube_config_contexts(config_file=self.kubeconfig)
                        self.namespace = (
                            (context or {}).get("context", {}).get("namespace", "default")
                        )
                else:
                    config.load_incluster_config(client_configuration=settings)  # type: ignore[no-untyped-call]
                    if not self.namespace:
                        self.namespace = IN_CLUSTER_NAMESPACE.read_text().strip()
                settings.connection_pool_maxsize = POOL
                self._api = client.ApiClient(configuration=settings)
            return self._api

    async def core(self) -> Any:
        """The core API. Typed ``Any``: raw responses are not what the library's stubs say."""
        return client.CoreV1Api(await self.connect())

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()

    async def call(self, what: str, call: Callable[[], Awaitable[Any]]) -> bytes:
        """One call's body, bounded in time; the API's error as an ``ApiException``."""

        async def body() -> bytes:
            response = await call()
            async with response:
                data: bytes = await response.read()
                check(response.status, data)
                return data

        try:
            return await asyncio.wait_for(body(), self.timeout)
        except TimeoutError:
            raise LauncherError(f"the Kubernetes API did not answer in time ({what})") from None

    async def create(self, kind: str, body: dict[str, Any]) -> bool:
        """Create an object; ``False`` when one of that name exists already (409)."""
        v1 = await self.core()
        networking: Any = client.NetworkingV1Api(await self.connect())
        calls = {
            "Pod": v1.create_namespaced_pod,
            "Secret": v1.create_namespaced_secret,
            "PersistentVolumeClaim": v1.create_namespaced_persistent_volume_claim,
            "NetworkPolicy": networking.create_namespaced_network_policy,
        }
        try:
            await self.call(
                f"create {kind}",
                lambda: calls[kind](self.namespace, body, _preload_content=False),
            )
        except client.ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    async def read(self, kind: str, name: str) -> dict[str, Any] | None:
        """An object, or ``None`` when there is none (404)."""
        v1 = await self.core()
        networking: Any = client.NetworkingV1Api(await self.connect())
        calls = {
            "Pod": v1.read_namespaced_pod,
            "PersistentVolumeClaim": v1.read_namespaced_persistent_volume_claim,
            "NetworkPolicy": networking.read_namespaced_network_policy,
        }
        try:
            data = await self.call(
                f"read {kind}", lambda: calls[kind](name, self.namespace, _preload_content=False)
            )
        except client.ApiException as e:
            if e.status == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(data)
        return found

    async def delete(self, kind: str, name: str) -> None:
        """Delete an object; one that is not there is fine (404)."""
        v1 = await self.core()
        networking: Any = client.NetworkingV1Api(await self.connect())
        calls = {
            "Pod": v1.delete_namespaced_pod,
            "Secret": v1.delete_namespaced_secret,
            "PersistentVolumeClaim": v1.delete_namespaced_persistent_volume_claim,
            "NetworkPolicy": networking.delete_namespaced_network_policy,
        }
        try:
            await self.call(
                f"delete {kind}",
                lambda: calls[kind](name, self.namespace, _preload_content=False),
            )
        except client.ApiException as e:
            if e.status != 404:
                raise

    async def delete_secrets(self, labels: str) -> None:
        v1 = await self.core()
        await self.call(
            "delete secrets",
            lambda: v1.delete_collection_namespaced_secret(
                self.namespace, label_selector=labels, _preload_content=False
            ),
        )

    async def events_of(self, name: str) -> list[dict[str, Any]]:
        v1 = await self.core()
        data = await self.call(
            "read events",
            lambda: v1.list_namespaced_event(
                self.namespace,
                field_selector=f"involvedObject.name={name}",
                _preload_content=False,
            ),
        )
        items: list[dict[str, Any]] = json.loads(data).get("items") or []
        return [e for e in items if (e.get("involvedObject") or {}).get("name") == name]

    async def pod_log(self, name: str, container: str, lines: int) -> str:
        v1 = await self.core()
        data = await self.call(
            "read logs",
            lambda: v1.read_namespaced_pod_log(
                name, self.namespace, container=container, tail_lines=lines,
                _preload_content=False,
            ),
        )  # fmt: skip
        return data.decode(errors="replace")
