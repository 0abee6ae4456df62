"""The server side of "Publish as dashboard": ``<base>/podium/info``, ``/publish`` and
``/status``, answered by calling Podium's REST API with this server's own token
(``$JUPYTERHUB_API_TOKEN``: the browser never holds a token) through the same client and
publishing steps as the ``podium`` command (podium_cli)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from podium_cli.client import ApiError, CliError, PodiumApi, dashboard_path, locate
from podium_cli.guess import dashboard_name
from podium_cli.main import FRAMEWORKS, access
from podium_cli.publishing import current, guess_file, save, storage_source

MAX_BODY = 65_536


class Podium:
    """Podium as this server's user: found once (the hub says where), then kept."""

    def __init__(self) -> None:
        self.api: PodiumApi | None = None
        self.me: dict[str, Any] = {}

    def connect(self) -> tuple[PodiumApi, dict[str, Any]]:
        if self.api is None:
            api = PodiumApi(locate(os.environ))
            me = api.api("GET", "user")
            if not isinstance(me, dict) or not isinstance(me.get("name"), str):
                raise CliError("Podium's answer about you has no name: is it Podium?", code=3)
            if me.get("public_url"):
                api.where = replace(api.where, public=str(me["public_url"]))
            self.api, self.me = api, me
        return self.api, self.me


def described(podium: PodiumApi, doc: dict[str, Any]) -> dict[str, Any]:
    """What the dialog shows of a dashboard."""
    keep = ("name", "status", "message", "framework", "access", "idle_timeout", "title")
    return {**{k: doc.get(k) for k in keep}, "link": podium.link(doc)}


class PodiumHandler(APIHandler):
    auth_resource = "contents"  # publishing runs the server's files: who may write them

    @property
    def podium(self) -> Podium:
        found: Podium = self.settings["podium"]
        return found

    def fail(self, e: CliError) -> None:
        status = e.status if isinstance(e, ApiError) else {2: 400, 3: 502}.get(e.code, 500)
        self.set_status(status)
        self.finish(json.dumps({"message": e.message}))

    def local(self, path: str) -> tuple[Path, Path]:
        """The file ``path`` names (relative to this server's root), and the folder
        Podium runs the user's files from."""
        root = Path(self.contents_manager.root_dir).resolve()
        local = (root / path.lstrip("/")).resolve()
        if not local.is_relative_to(root):
            raise CliError(f"{path}: not in this server's files", code=2)
        storage = os.environ.get("PODIUM_STORAGE_ROOT") or os.environ.get("HOME") or str(root)
        return local, Path(storage)

    def body(self) -> dict[str, Any]:
        if len(self.request.body) > MAX_BODY:
            raise CliError("the request is too large", code=2)
        try:
            doc = json.loads(self.request.body or b"{}")
        except ValueError:
            raise CliError("the request is not JSON", code=2) from None
        if not isinstance(doc, dict):
            raise CliError("the request must be a JSON object", code=2)
        return doc


class InfoHandler(PodiumHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            self.finish(await asyncio.to_thread(self.info, self.get_query_argument("path", "")))
        except CliError as e:
            self.fail(e)

    def info(self, path: str) -> dict[str, Any]:
        """What the dialog starts from: the guess, or the dashboard this file already is."""
        api, me = self.podium.connect()
        local, storage = self.local(path)
        entry, source = storage_source(local, storage)
        guess = guess_file(entry, local)
        found = None
        groups = api.api("GET", "groups")  # the hub's, as Podium's form offers them
        listed = api.api("GET", f"dashboards?owner={quote(me['name'], safe='')}&limit=500")
        for doc in listed.get("items", []) if isinstance(listed, dict) else []:
            if doc.get("entry") == entry and doc.get("source") == source:
                found = described(api, doc)
                break
        return {
            "user": me["name"],
            "name": found["name"] if found else dashboard_name(f"{source['path']}/{entry}"),
            "framework": guess.framework,
            "why": guess.why,
            "frameworks": list(FRAMEWORKS),
            "groups": groups.get("items", []) if isinstance(groups, dict) else [],
            "published": found,
        }


class PublishHandler(PodiumHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            self.finish(await asyncio.to_thread(self.publish, self.body()))
        except CliError as e:
            self.fail(e)

    def publish(self, doc: dict[str, Any]) -> dict[str, Any]:
        api, me = self.podium.connect()
        local, storage = self.local(str(doc.get("path", "")))
        entry, source = storage_source(local, storage)
        name = str(doc.get("name") or "")
        framework = str(doc.get("framework") or "")
        if framework not in FRAMEWORKS:
            raise CliError(f"choose a framework (one of {', '.join(FRAMEWORKS)})", code=2)
        body: dict[str, Any] = {"framework": framework, "entry": entry, "source": source}
        who = doc.get("to")
        if isinstance(who, list) and (shared := access([str(w) for w in who])) is not None:
            body["access"] = shared
        elif who == []:
            body["access"] = {"mode": "private"}  # the owner alone
        idle = doc.get("idle_minutes")
        if idle is not None:
            if not isinstance(idle, int) or isinstance(idle, bool) or idle < 0:
                raise CliError("the idle time must be a whole number of minutes", code=2)
            body["idle_timeout"] = idle * 60
        path = dashboard_path(str(me["name"]), name)
        done = save(api, path, name, body)
        return {"done": done, "dashboard": described(api, current(api, path) or {"name": name})}


class StatusHandler(PodiumHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            self.finish(await asyncio.to_thread(self.status, self.get_query_argument("name")))
        except CliError as e:
            self.fail(e)

    def status(self, name: str) -> dict[str, Any]:
        api, me = self.podium.connect()
        doc = current(api, dashboard_path(str(me["name"]), name))
        if doc is None:
            raise ApiError(404, f"you have no dashboard {name!r}")
        return described(api, doc)


def setup_handlers(web_app: Any) -> None:
    web_app.settings["podium"] = Podium()
    base = url_path_join(web_app.settings["base_url"], "podium")
    web_app.add_handlers(
        ".*$",
        [(f"{base}/info", InfoHandler), (f"{base}/publish", PublishHandler),
         (f"{base}/status", StatusHandler)],
    )  # fmt: skip
