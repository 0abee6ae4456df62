"""One list + watch of Podium's pods, serving every status lookup from memory.

The reflector lists the pods with Podium's labels once, then watches from that
list's ``resourceVersion`` with bookmarks, so that at steady state the API
server sees one long request per ``watch_seconds`` and nothing per dashboard.
It resumes from the last version it saw; a 410 Gone (history expired) makes it
list again; any other failure is retried with exponential backoff. Lookups
wait for the first list (``first_load``) and then never touch the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from kubernetes_asyncio import client

from gateway.launchers.kube.apiserver import check

log = logging.getLogger("podium.kube")


class Expired(Exception):
    """The watch's resource version is no longer kept by the API server (410)."""


class PodReflector:
    def __init__(
        self,
        v1: Any,  # client.CoreV1Api, called for raw responses (see PodLauncher._v1)
        namespace: str,
        selector: str,
        *,
        watch_seconds: int = 300,
        request_timeout: float = 10,
    ) -> None:
        self.v1 = v1
        self.namespace = namespace
        self.selector = selector
        self.watch_seconds = watch_seconds
        self.request_timeout = request_timeout
        self.pods: dict[str, dict[str, Any]] = {}
        self.version = ""
        self.first_load: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.failures = 0
        self.restarts = 0  # lists after the first (410s, errors): for tests and logs
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def ready(self, timeout: float = 30) -> None:
        """Wait for the first list (it raises what the first list raised, after retries)."""
        self.start()
        await asyncio.wait_for(asyncio.shield(self.first_load), timeout)

    async def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(self.pods)`` holds; whether it did within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate(self.pods):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    def _notify(self) -> None:
        self._changed.set()

    async def _list(self) -> None:
        response = await self.v1.list_namespaced_pod(
            self.namespace,
            label_selector=self.selector,
            _preload_content=False,
            _request_timeout=self.request_timeout,
        )
        body = await response.read()
        check(response.status, body)
        doc = json.loads(body)
        self.pods = {item["metadata"]["name"]: item for item in doc.get("items") or []}
        self.version = doc["metadata"]["resourceVersion"]
        self._notify()
        if self.first_load.done():  # failed before: lookups may go on now
            self.first_load = asyncio.get_running_loop().create_future()
        self.first_load.set_result(None)

    async def _watch(self) -> None:
        response = await self.v1.list_namespaced_pod(
            self.namespace,
            label_selector=self.selector,
            watch=True,
            resource_version=self.version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_seconds,
            _preload_content=False,
            _request_timeout=self.watch_seconds + self.request_timeout,
        )
        async with response:
            if response.status != 200:
                check(response.status, await response.read())
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Expired(obj.get("message", "expired"))
                    raise client.ApiException(status=obj.get("code"), reason=obj.get("message"))
                self.version = obj["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = obj
                self._notify()
                self.failures = 0

    async def _run(self) -> None:
        listed = False
        while True:
            try:
                if not listed:
                    await self._list()
                    listed = True
                await self._watch()  # ends at timeout_seconds: resume from self.version
            except Expired:
                log.info("pod watch expired; listing again")
                listed = False
                self.restarts += 1
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.failures += 1
                delay = min(30.0, 0.25 * 2 ** min(self.failures, 7))
                log.warning("pod %s failed (%s); again in %.1f s",
                            "watch" if listed else "list", describe_error(e), delay)  # fmt: skip
                if self.failures >= 3 and not listed and not self.first_load.done():
                    self.first_load.set_exception(e)
                await asyncio.sleep(delay)
                if listed:
                    listed = self.failures < 3  # after repeated failures, list afresh
                    if not listed:
                        self.restarts += 1


def describe_error(error: Exception) -> str:
    if isinstance(error, client.ApiException):
        return f"API {error.status}: {error.reason}"
    return type(error).__name__ + (f": {error}" if str(error) else "")
