"""The server side of "Publish as dashboard": ``<base>/podium/info``, ``/publish`` and
``/status``, answered by calling Podium's REST API with this server's own token
(``$JUPYTERHUB_API_TOKEN``: the browser never holds a token) through the same client and
publishing steps as the ``podium`` command (podium_cli)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
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
MAX_PATH = 4096
DIALOG = tuple(f for f in FRAMEWORKS if f != "custom")  # a command of its own needs the form


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

    async def answer(self, work: Callable[[], dict[str, Any]]) -> None:
        """``work``'s answer (in a thread: the calls to Podium block), or its failure as
        JSON with a 4xx: a path or a body this server cannot use is the caller's."""
        try:
            self.finish(await asyncio.to_thread(work))
        except CliError as e:
            self.fail(e)
        except (OSError, ValueError, RuntimeError, RecursionError) as e:
            self.fail(CliError(f"this request cannot be used: {e}", code=2))

    def fail(self, e: CliError) -> None:
        status = e.status if isinstance(e, ApiError) else {2: 400, 3: 502}.get(e.code, 500)
        self.set_status(status)
        self.finish(json.dumps({"message": e.message}))

    def local(self, path: str) -> tuple[Path, Path]:
        """The file ``path`` names (relative to this server's root), and the folder
        Podium runs the user's files from."""
        if not isinstance(path, str) or not path or "\0" in path or len(path) > MAX_PATH:
            raise CliError("name a file of this server's (its path from the file browser)", 2)
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
        path = self.get_query_argument("path", "")
        await self.answer(lambda: self.info(path))

    def info(self, path: str) -> dict[str, Any]:
        """What the dialog starts from: the guess, or the dashboard this file already is."""
        api, me = self.podium.connect()
        local, storage = self.local(path)
        entry, source = storage_source(local, storage)
        guess = guess_file(entry, local)
        found = None
        groups = api.api("GET", "groups")  # the hub's, as Podium's form offers them
        listed = api.api("GET", f"dashboards?owner={quote(me['name'], safe='')}&limit=500")
        mine = listed.get("items", []) if isinstance(listed, dict) else []
        for doc in mine:
            if doc.get("entry") == entry and doc.get("source") == source:
                found = described(api, doc)
                break
        name = found["name"] if found else dashboard_name(f"{source['path']}/{entry}")
        taken = {doc.get("name") for doc in mine}
        if not found and name in taken:  # another file's: a name of its own
            name = next(
                f"{name[:60]}-{i}" for i in range(2, 1000) if f"{name[:60]}-{i}" not in taken
            )
        return {
            "user": me["name"],
            "name": name,
            "framework": guess.framework if guess.framework in DIALOG else "",
            "why": guess.why,
            "frameworks": list(DIALOG),
            "groups": groups.get("items", []) if isinstance(groups, dict) else [],
            "published": found,
        }


class PublishHandler(PodiumHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        await self.answer(lambda: self.publish(self.body()))

    def publish(self, doc: dict[str, Any]) -> dict[str, Any]:
        api, me = self.podium.connect()
        local, storage = self.local(str(doc.get("path", "")))
        entry, source = storage_source(local, storage)
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            raise CliError("give the dashboard a name", code=2)
        framework = doc.get("framework")
        if framework not in DIALOG:
            raise CliError(f"choose a framework (one of {', '.join(DIALOG)})", code=2)
        body: dict[str, Any] = {"framework": framework, "entry": entry, "source": source}
        who = doc.get("to", [])
        if not isinstance(who, list) or not all(isinstance(w, str) for w in who):
            raise CliError("who may view it: a list of usernames, group:NAME, all or public", 2)
        try:
            body["access"] = access(who) or {"mode": "private"}  # none named: the owner alone
        except CliError:
            raise CliError(
                "everyone (all) and public stand alone: no names beside them", 2
            ) from None
        idle = doc.get("idle_minutes")
        if idle is not None:
            if not isinstance(idle, int) or isinstance(idle, bool) or not 5 <= idle <= 1440:
                raise CliError("stop after idle: 5 to 1440 minutes (empty: the hub's default)", 2)
            body["idle_timeout"] = idle * 60
        path = dashboard_path(str(me["name"]), name)
        done = save(api, path, name, body)
        return {"done": done, "dashboard": described(api, current(api, path) or {"name": name})}


class StatusHandler(PodiumHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        name = self.get_query_argument("name", "")
        await self.answer(lambda: self.status(name))

    def status(self, name: str) -> dict[str, Any]:
        api, me = self.podium.connect()
        doc = current(api, dashboard_path(str(me["name"]), name))
        if doc is None:
            raise ApiError(404, f"you have no dashboard {name!r}")
        return described(api, doc)


def setup_handlers(web_app: Any, log: Any) -> None:
    if not (Path(__file__).parent / "labextension" / "package.json").exists():
        log.warning("jupyterlab_podium: installed without its JupyterLab part (build it first: "
                    "docs/admin.md); only the podium command works")  # fmt: skip
    web_app.settings["podium"] = Podium()
    base = url_path_join(web_app.settings["base_url"], "podium")
    web_app.add_handlers(
        ".*$",
        [(f"{base}/info", InfoHandler), (f"{base}/publish", PublishHandler),
         (f"{base}/status", StatusHandler)],
    )  # fmt: skip
