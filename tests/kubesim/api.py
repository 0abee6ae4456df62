"""An in-process Kubernetes API server: the REST and watch protocol for what Podium uses.

Served by aiohttp on loopback, reached through a kubeconfig file like any
cluster. It keeps pods, persistent volume claims, secrets, events and network
policies in memory with the semantics clients rely on: a cluster-wide
``resourceVersion``, label selectors (``=``, ``==``, ``!=``, existence), 404 /
409 / 422 answers as ``Status`` objects, objects checked against the official
schema (``kubernetes-validate``, strict) on create, graceful pod deletion (a
``deletionTimestamp`` first, the object gone when the kubelet says so), and
watches with bookmarks, ``timeoutSeconds`` and expiry (410 Gone for a version
older than the kept history).

Faults for tests: :meth:`ApiServer.fail` answers the next matching requests
with an error status (or stalls them), :meth:`ApiServer.drop_watches` cuts
every open watch, :meth:`ApiServer.compact` forgets history so that resuming
watches get 410. ``calls`` counts requests by method and resource.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kubernetes_validate
from aiohttp import web

from tests.kubesim.validation import claim_problems, pod_problems

Object = dict[str, Any]
KINDS = {
    # plural: (kind, api group path, apiVersion)
    "pods": ("Pod", "/api/v1", "v1"),
    "persistentvolumeclaims": ("PersistentVolumeClaim", "/api/v1", "v1"),
    "secrets": ("Secret", "/api/v1", "v1"),
    "events": ("Event", "/api/v1", "v1"),
    "networkpolicies": ("NetworkPolicy", "/apis/networking.k8s.io/v1", "networking.k8s.io/v1"),
}
SCHEMA_VERSION = "1.31"
HISTORY = 5000  # watch events kept; older resource versions get 410 Gone


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return web.json_response(body, status=code)


def truthy(value: str | None) -> bool:
    """A query flag as the API server (Go's ParseBool) reads it."""
    return (value or "").lower() in ("1", "t", "true")


def parse_selector(text: str) -> list[tuple[str, str, str]]:
    """``a=b,c!=d,e,!f`` into (key, op, value) terms."""
    terms = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part.startswith("!"):
            terms.append((part[1:], "!exists", ""))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            terms.append((k.strip(), "!=", v.strip()))
        elif "=" in part:
            k, v = part.split("==", 1) if "==" in part else part.split("=", 1)
            terms.append((k.strip(), "=", v.strip()))
        else:
            terms.append((part, "exists", ""))
    return terms


def selected(obj: Object, terms: list[tuple[str, str, str]]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for key, op, value in terms:
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!exists" and key in labels:
            return False
    return True


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int  # 0: stall (no answer until the client gives up)
    count: int


@dataclass(eq=False)  # each watch is itself (kept in a set)
class Watcher:
    plural: str
    namespace: str
    terms: list[tuple[str, str, str]]
    queue: asyncio.Queue[tuple[str, Object] | None] = field(default_factory=asyncio.Queue)


def verb_of(method: str, named: bool, watch: bool) -> str:
    """The RBAC verb of a request (what the API server's authorizer checks)."""
    if method == "GET":
        return "get" if named else ("watch" if watch else "list")
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def granted(rules: list[Object], group: str, resource: str, verb: str) -> bool:
    return any(
        group in r.get("apiGroups", []) and resource in r.get("resources", [])
        and verb in r.get("verbs", [])
        for r in rules
    )  # fmt: skip


class ApiServer:
    def __init__(self, token: str | None = None, rules: list[Object] | None = None) -> None:
        """``rules``: the Role bound to the token's service account (None: allowed all)."""
        self.token = token or secrets.token_hex(16)
        self.rules = rules
        self.objects: dict[tuple[str, str, str], Object] = {}  # (plural, ns, name)
        self.version = 1000
        self.history: collections.deque[tuple[int, str, str, Object]] = collections.deque(
            maxlen=HISTORY
        )
        self.oldest = self.version  # versions at or before this cannot be resumed
        self.watchers: set[Watcher] = set()
        self.faults: list[Fault] = []
        self.calls: collections.Counter[str] = collections.Counter()
        self.listeners: list[Callable[[str, str, Object], None]] = []  # the kubelet
        # (namespace, pod, container): its log, once that container has started
        self.logs: dict[tuple[str, str, str], Callable[[int | None], str]] = {}
        self.bookmark_interval = 1.0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # --- serving -------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        for base in {g for _, g, _ in KINDS.values()}:
            app.router.add_route("*", base + "/namespaces/{ns}/{plural}", self._collection)
            app.router.add_route("*", base + "/namespaces/{ns}/{plural}/{name}", self._item)
        app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", self._log)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self._closing.set()
        self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()

    def kubeconfig(self, namespace: str) -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": self.url}}],
                "users": [{"name": "podium", "user": {"token": self.token}}],
                "contexts": [
                    {
                        "name": "sim",
                        "context": {"cluster": "sim", "user": "podium", "namespace": namespace},
                    }
                ],
                "current-context": "sim",
            }
        )

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        plural = request.match_info.get("plural", "pods")
        watch = truthy(request.query.get("watch"))
        kind = "watch" if watch else request.method
        if self.rules is not None:
            resource = "pods/log" if request.path.endswith("/log") else plural
            named = "name" in request.match_info
            verb = verb_of(request.method, named, watch)
            group = (
                KINDS[plural][1].split("/")[2]
                if plural in KINDS and KINDS[plural][1].startswith("/apis/")
                else ""
            )
            if not granted(self.rules, group, resource, verb):
                ns = request.match_info.get("ns", "")
                return status(403, "Forbidden",
                              f'{resource} is forbidden: User "system:serviceaccount:{ns}:podium" '
                              f'cannot {verb} resource "{resource}" in API group "{group}" in '
                              f'the namespace "{ns}"')  # fmt: skip
        self.calls[f"{kind} {plural}"] += 1
        for fault in self.faults:
            if (
                fault.count
                and fault.method in (request.method, "*")
                and fault.path.search(request.path)
            ):
                fault.count -= 1
                if fault.status == 0:
                    await self._closing.wait()  # until the server stops
                return status(fault.status, "InternalError", "injected fault")
        return await handler(request)

    # --- faults --------------------------------------------------------------------
    def fail(self, method: str, path: str, status_code: int = 500, count: int = 1) -> None:
        """The next ``count`` requests matching get ``status_code`` (0: never answered)."""
        self.faults.append(Fault(method, re.compile(path), status_code, count))

    def drop_watches(self) -> None:
        for watcher in list(self.watchers):
            watcher.queue.put_nowait(None)

    def compact(self) -> None:
        """Forget the watch history: resuming from any earlier version gets 410 Gone."""
        self.history.clear()
        self.oldest = self.version

    # --- the store -----------------------------------------------------------------
    def _bump(self) -> str:
        self.version += 1
        return str(self.version)

    def record(self, kind: str, plural: str, obj: Object) -> None:
        """Store a change and tell the watchers and the kubelet."""
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        obj["metadata"]["resourceVersion"] = self._bump()
        if kind == "DELETED":
            self.objects.pop((plural, ns, name), None)
            self._collect(obj["metadata"].get("uid"), ns)
        else:
            self.objects[(plural, ns, name)] = obj
        snapshot = copy.deepcopy(obj)
        self.history.append((self.version, plural, kind, snapshot))
        for watcher in self.watchers:
            if (
                watcher.plural == plural
                and watcher.namespace == ns
                and selected(snapshot, watcher.terms)
            ):
                watcher.queue.put_nowait((kind, snapshot))
        for listen in self.listeners:
            listen(kind, plural, snapshot)

    def _collect(self, uid: str | None, ns: str) -> None:
        """The garbage collector: objects owned by a deleted one go with it."""
        if not uid:
            return
        for (plural, n, _), obj in list(self.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            if n == ns and any(o.get("uid") == uid for o in owners) and plural != "pods":
                self.record("DELETED", plural, obj)

    def get(self, plural: str, ns: str, name: str) -> Object | None:
        found = self.objects.get((plural, ns, name))
        return copy.deepcopy(found) if found else None

    def update(self, plural: str, obj: Object) -> None:
        self.record("MODIFIED", plural, obj)

    def create(self, plural: str, ns: str, obj: Object) -> Object:
        kind, _, api_version = KINDS[plural]
        obj = copy.deepcopy(obj)
        obj.setdefault("kind", kind)
        obj.setdefault("apiVersion", api_version)
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = ns
        if plural == "secrets" and "stringData" in obj:
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(v.encode()).decode()
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        if plural == "pods":
            obj["status"] = {"phase": "Pending", "conditions": []}
        if plural == "persistentvolumeclaims":
            obj["status"] = {"phase": "Pending"}
        self.record("ADDED", plural, obj)
        return copy.deepcopy(obj)

    # --- handlers ------------------------------------------------------------------
    async def _collection(self, request: web.Request) -> web.StreamResponse:
        ns, plural = request.match_info["ns"], request.match_info["plural"]
        if plural not in KINDS:
            return status(404, "NotFound", f"the server could not find the resource {plural}")
        if request.method == "POST":
            return await self._create(request, ns, plural)
        if request.method == "DELETE" and plural != "pods":  # deletecollection
            terms = parse_selector(request.query.get("labelSelector", ""))
            doomed = [
                o
                for (p, n, _), o in list(self.objects.items())
                if p == plural and n == ns and selected(o, terms)
            ]
            for obj in doomed:
                self.record("DELETED", plural, obj)
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        if request.method != "GET":
            return status(405, "MethodNotAllowed", request.method)
        terms = parse_selector(request.query.get("labelSelector", ""))
        if truthy(request.query.get("watch")):
            return await self._watch(request, ns, plural, terms)
        kind, _, api_version = KINDS[plural]
        items = [
            copy.deepcopy(o)
            for (p, n, _), o in sorted(self.objects.items())
            if p == plural and n == ns and selected(o, terms)
        ]
        return web.json_response(
            {
                "kind": kind + "List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.version)},
                "items": items,
            }
        )

    async def _create(self, request: web.Request, ns: str, plural: str) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return status(400, "BadRequest", "the body is not JSON")
        kind, _, api_version = KINDS[plural]
        name = (body.get("metadata") or {}).get("name", "")
        if body.get("kind", kind) != kind:
            return status(400, "BadRequest", f"kind {body.get('kind')} sent to {plural}")
        if plural != "events":
            try:
                kubernetes_validate.validate(
                    {"kind": kind, "apiVersion": api_version, **body}, SCHEMA_VERSION, strict=True
                )
            except kubernetes_validate.ValidationError as e:
                return status(422, "Invalid", f"{kind} {name!r} is invalid: {e.message}")
        if not name or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", name):
            return status(422, "Invalid", f"{kind} {name!r} is invalid: metadata.name")
        checks = {"pods": pod_problems, "persistentvolumeclaims": claim_problems}
        problems = checks[plural](body) if plural in checks else []
        if problems:  # as the API server words them: `Pod "x" is invalid: [a, b]`
            return status(422, "Invalid", f'{kind} "{name}" is invalid: [{", ".join(problems)}]')
        if (plural, ns, name) in self.objects:
            return status(409, "AlreadyExists", f'{plural} "{name}" already exists')
        return web.json_response(self.create(plural, ns, body), status=201)

    async def _item(self, request: web.Request) -> web.Response:
        ns, plural, name = (request.match_info[k] for k in ("ns", "plural", "name"))
        found = self.objects.get((plural, ns, name))
        if found is None:
            return status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return web.json_response(copy.deepcopy(found))
        if request.method != "DELETE":
            return status(405, "MethodNotAllowed", request.method)
        if plural == "pods":
            if "deletionTimestamp" not in found["metadata"]:
                found["metadata"]["deletionTimestamp"] = now()
                grace = found["spec"].get("terminationGracePeriodSeconds", 30)
                found["metadata"]["deletionGracePeriodSeconds"] = grace
                self.update(plural, found)  # the kubelet stops it, then removes it
            return web.json_response(copy.deepcopy(found))
        self.record("DELETED", plural, found)
        return web.json_response(copy.deepcopy(found))

    async def _log(self, request: web.Request) -> web.Response:
        ns, name = request.match_info["ns"], request.match_info["name"]
        if ("pods", ns, name) not in self.objects:
            return status(404, "NotFound", f'pods "{name}" not found')
        spec = self.objects[("pods", ns, name)]["spec"]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        containers = [c["name"] for c in spec.get("containers") or []]
        container = request.query.get("container") or (containers[0] if len(containers) == 1
                                                        else "")  # fmt: skip
        if not container:
            return status(400, "BadRequest", f"a container name must be specified for pod {name}")
        if container not in inits + containers:
            return status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        reader = self.logs.get((ns, name, container))
        if reader is None:
            why = "PodInitializing" if container in containers and inits else "ContainerCreating"
            return status(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to '
                f"start: {why}"
            )  # fmt: skip
        tail = request.query.get("tailLines")
        return web.Response(text=reader(int(tail) if tail else None))

    async def _watch(
        self, request: web.Request, ns: str, plural: str, terms: list[tuple[str, str, str]]
    ) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or self.version)
        timeout = float(request.query.get("timeoutSeconds", 1800))
        bookmarks = truthy(request.query.get("allowWatchBookmarks"))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if since < self.oldest:
            gone = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": 410,
                "reason": "Expired",
                "message": f"too old resource version: {since} ({self.oldest})",
            }
            await response.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return response
        watcher = Watcher(plural, ns, terms)
        for version, p, kind, obj in list(self.history):
            mine = p == plural and obj["metadata"]["namespace"] == ns
            if version > since and mine and selected(obj, terms):
                watcher.queue.put_nowait((kind, obj))
        self.watchers.add(watcher)
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                wait = min(left, self.bookmark_interval) if bookmarks else left
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    if bookmarks:
                        kind, api_version = KINDS[plural][0], KINDS[plural][2]
                        mark = {
                            "kind": kind,
                            "apiVersion": api_version,
                            "metadata": {"resourceVersion": str(self.version)},
                        }
                        line = {"type": "BOOKMARK", "object": mark}
                        await response.write(json.dumps(line).encode() + b"\n")
                    continue
                if item is None:
                    break  # dropped by a test
                kind, obj = item
                await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
        except ConnectionResetError:
            pass  # the client went away
        finally:
            self.watchers.discard(watcher)
        return response
