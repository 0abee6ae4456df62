"""A real JupyterHub with a real configurable-http-proxy, and Podium as its external service.

Users alice, bob, carol and admin (password ``podium``), group analysts = {bob}.
Podium is reached at ``<base>/dashboards/`` through the proxy route the hub
keeps (``c.Proxy.extra_routes``). A second service, ``test-admin``, holds a
token the tests use to change the hub (groups, tokens) as an admin would.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.front.origins import Origins
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHP = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "podium"


HUB_CONFIG = """
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.auth_token = {proxy_token!r}
c.ConfigurableHTTPProxy.should_start = {proxy_managed}
c.JupyterHub.db_url = "sqlite:///{dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{dir}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{"alice", "bob", "carol", "admin"}}
c.Authenticator.admin_users = {{"admin"}}
c.JupyterHub.load_groups = {{"analysts": {{"users": ["bob"]}}, "sales": {{"users": []}}}}
c.JupyterHub.services = [
    {{"name": "podium", "url": "http://127.0.0.1:{podium_port}", "api_token": {podium_token!r},
      "oauth_no_confirm": True, "oauth_client_id": "service-podium",
      "oauth_redirect_uri": "/dashboards/_/oauth_callback"}},
    {{"name": "test-admin", "api_token": {admin_token!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "user", "scopes": ["self", "access:services!service=podium"]}},
    {{"name": "podium", "services": ["podium"],
      "scopes": ["read:users", "read:users:groups", "read:groups", "list:users", "list:groups"]}},
    {{"name": "test-admin", "services": ["test-admin"],
      "scopes": ["admin:users", "admin:groups", "tokens", "proxy"]}},
]
c.Proxy.extra_routes = {{"/dashboards/": "http://127.0.0.1:{podium_port}"}}
c.JupyterHub.last_activity_interval = 3600
c.JupyterHub.log_level = "WARN"
"""

PODIUM_CONFIG = """
c.Podium.ip = "127.0.0.1"
c.Podium.port = {podium_port}
c.Podium.hub_api_url = "http://127.0.0.1:{hub_port}/hub/api"
c.Podium.api_token = {podium_token!r}
c.Podium.client_id = "service-podium"
c.Podium.hub_url = "/hub/"
c.Podium.dashboard_origin = "same-origin"  # isolated stacks add their own below
c.Podium.db_url = {db_url!r}
c.Podium.cookie_secret_file = "{dir}/podium_cookie_secret"
c.Podium.user_refresh_interval = 2
c.Podium.token_cache_seconds = 2
c.Podium.check_interval = 1
c.Podium.idle_timeout_min = 2
c.Podium.proxy_api_url = "http://127.0.0.1:{proxy_api_port}"
c.Podium.proxy_auth_token = {proxy_token!r}
c.Podium.route_check_interval = 1
c.Podium.activity_flush_interval = 2
c.LocalLauncher.user_root = "{dir}/home/{{username}}"
c.LocalLauncher.state_dir = "{dir}/runners"
c.LocalLauncher.ready_timeout = 120
"""

NO_QUOTAS = """
# One creator makes and runs many dashboards here: no per-creator quotas.
c.Podium.max_dashboards_per_user = c.Podium.max_running_per_user = 0
c.Podium.creates_per_hour = c.Podium.starts_per_hour = 0
"""
ORIGIN_PER_DASHBOARD = "http://{dashboard}.localhost:{podium_port}"
ISOLATED = """
c.Podium.dashboard_origin = {origin!r}
c.Podium.public_url = "http://127.0.0.1:{port}"
"""


@dataclass
class HubStack:
    dir: Path
    port: int
    hub_port: int
    proxy_api_port: int
    podium_port: int
    podium_token: str
    admin_token: str
    db_url: str
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    dashboard_origin: str = ""  # c.Podium.dashboard_origin ("": the gateway's origin)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def podium(self) -> str:
        return self.base + "/dashboards/"

    def dashboard_host(self, owner: str, name: str) -> str:
        """The ``Host`` a dashboard is served on (the gateway's, when not isolated)."""
        if not self.isolated:
            return f"127.0.0.1:{self.port}"
        return Origins.parse(self.dashboard_origin).origin(owner, name).split("://", 1)[1]

    @property
    def isolated(self) -> bool:
        return bool(self.dashboard_origin)

    def dashboard(self, owner: str, name: str) -> str:
        """Where a dashboard's bytes are served: its shareable link, or on its own origin."""
        return f"http://{self.dashboard_host(owner, name)}/dashboards/{owner}/{name}/"

    def gateway(self) -> psutil.Process:
        """The process serving the gateway's port (``podium``'s supervised child)."""
        return serving(self.podium_port)

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")

    async def start_podium(self) -> None:
        await self._start(
            "podium",
            [str(Path(sys.executable).parent / "podium"), "-f", str(self.dir / "podium_config.py")],
        )
        await wait_http(f"http://127.0.0.1:{self.podium_port}/dashboards/_/health", self, "podium")

    async def start_hub(self) -> None:
        await self._start(
            "jupyterhub",
            [sys.executable, "-m", "jupyterhub", "-f", str(self.dir / "jupyterhub_config.py")],
        )
        # Exactly 200: the proxy answers 404 itself until the hub has added its routes.
        await wait_http(self.base + "/hub/health", self, "jupyterhub", exact=200)
        await wait_http(self.podium + "_/health", self, "jupyterhub", exact=200)  # route in place

    async def _start(self, name: str, argv: list[str]) -> None:
        with (self.dir / f"{name}.log").open("ab") as log:
            self.processes[name] = await asyncio.create_subprocess_exec(
                *argv, cwd=self.dir, stdout=log, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
            )  # fmt: skip

    async def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.returncode is not None:
            return
        os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def hub_api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"token {self.admin_token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.base}/hub/api{path}", headers=headers, **kwargs) as r,
        ):
            assert r.status < 300, f"{method} {path}: {r.status} {await r.text()}"
            return await r.json() if r.content_type == "application/json" else None

    async def token_for(self, user: str) -> str:
        body = await self.hub_api(
            "POST", f"/users/{user}/tokens", json={"note": "tests", "expires_in": 3600}
        )
        return str(body["token"])


def serving(port: int) -> psutil.Process:
    """The process listening on ``port`` on this machine."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"nothing listens on port {port}")


async def wait_http(
    url: str, stack: HubStack, name: str, timeout: float = 60, exact: int | None = None
) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            process = stack.processes.get(name)
            if process is not None and process.returncode is not None:
                raise AssertionError(f"{name} exited {process.returncode}:\n{stack.log(name)}")
            try:
                async with session.get(url, allow_redirects=False) as r:
                    if r.status == exact if exact else r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout} s:\n{stack.log(name)}")


@asynccontextmanager
async def hub_stack(
    tmp: Path,
    db_url: str = "",
    podium_extra: str = "",
    hub_extra: str = "",
    isolated: bool | str = False,
) -> AsyncIterator[HubStack]:
    """The stack; ``isolated``: each dashboard on its own origin, ``<label>.localhost`` on
    the gateway's own port (browsers take any name under localhost for this machine), or
    the dashboard origin template given ("{podium_port}" filled in)."""
    stack = HubStack(
        dir=tmp, port=free_port(), hub_port=free_port(), proxy_api_port=free_port(),
        podium_port=free_port(), podium_token=secrets.token_hex(32), admin_token=secrets.token_hex(32),
        db_url=db_url or f"sqlite:///{tmp}/podium.sqlite",
    )  # fmt: skip
    values = {
        "port": stack.port, "hub_port": stack.hub_port, "proxy_api_port": stack.proxy_api_port,
        "podium_port": stack.podium_port, "podium_token": stack.podium_token,
        "admin_token": stack.admin_token, "dir": tmp, "chp": str(CHP), "password": PASSWORD,
        "proxy_token": secrets.token_hex(16), "proxy_managed": True, "db_url": stack.db_url,
    }  # fmt: skip
    (tmp / "jupyterhub_config.py").write_text(HUB_CONFIG.format(**values) + hub_extra)
    if isolated:
        template = isolated if isinstance(isolated, str) else ORIGIN_PER_DASHBOARD
        stack.dashboard_origin = template.replace("{podium_port}", str(stack.podium_port))
        podium_extra += ISOLATED.format(origin=stack.dashboard_origin, **values)
    (tmp / "podium_config.py").write_text(PODIUM_CONFIG.format(**values) + podium_extra)
    try:
        await stack.start_podium()  # first, so the hub does not wait for it
        await stack.start_hub()
        yield stack
    finally:
        for name in list(stack.processes):
            await stack.stop(name)
        stop_leftovers(stack)


def stop_leftovers(stack: HubStack) -> None:
    """The proxy and runners of this stack, if anything left them running."""
    proxy = f"--api-port {stack.proxy_api_port}"
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            cmdline = proc.info["cmdline"] or []
            # A runner, or its framework (both work inside the stack's folder).
            ours = (proc.info["cwd"] or "").startswith(str(stack.dir)) and proc.pid != os.getpid()
            if ours or proxy in " ".join(cmdline):
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
                proc.kill()


class Loopback(AbstractResolver):
    """Every name to 127.0.0.1, as browsers do for ``*.localhost`` (the system resolver does not)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]  # fmt: skip

    async def close(self) -> None:
        pass


def client(**kwargs: Any) -> aiohttp.ClientSession:
    """A client session that reaches dashboard origins (``<label>.localhost``) here."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=Loopback()), **kwargs)


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies like a browser (also for 127.0.0.1, which aiohttp's default
    refuses) and reaches dashboard origins."""
    return client(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def browser_login(
    session: aiohttp.ClientSession, stack: HubStack, user: str, next_path: str = ""
) -> aiohttp.ClientResponse:
    """Log in as a person does: open Podium, get sent to the hub's login form, submit it.

    Returns the final response (after every redirect), back at Podium.
    """
    async with session.get(stack.podium + next_path) as r:
        page = await r.text()
        login_url = str(r.url)
    xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page)
    assert xsrf, f"no login form at {login_url}:\n{page[:500]}"
    form = {"username": user, "password": PASSWORD, "_xsrf": xsrf.group(1)}
    async with session.post(login_url, data=form) as r:
        await r.read()
        return r


async def log_out(session: aiohttp.ClientSession, stack: HubStack) -> None:
    """Log out as a person does: the Log out page, then its button (a POST with the XSRF
    value, which the page carries)."""
    async with session.get(stack.podium + "_/logout") as r:
        page = await r.text()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page)
    assert xsrf, page[:500]
    async with session.post(
        stack.podium + "_/logout", data={"_xsrf": xsrf.group(1)}, allow_redirects=False
    ) as r:
        assert r.status == 303, await r.text()


def runner_pid(stack: HubStack, owner: str, name: str) -> int | None:
    """The runner process of ``owner``'s dashboard ``name`` (it works in its state folder)."""
    folder = str(stack.dir / "runners" / owner / name)
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["cwd"] == folder and "runners" in (proc.info["cmdline"] or []):
                return int(proc.pid)
    return None


def documented_roles() -> list[dict[str, object]]:
    """The ``user`` and ``server`` roles of docs/admin.md's jupyterhub_config.py, as written."""
    text = (ROOT / "docs" / "admin.md").read_text()
    start = text.index("c.JupyterHub.load_roles = [") + len("c.JupyterHub.load_roles = ")
    end = text.index("\n]\n", start) + 2
    roles = ast.literal_eval(text[start:end])
    return [r for r in roles if r["name"] in ("user", "server")]
