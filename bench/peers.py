"""The peer path: configurable-http-proxy -> jhsingle-native-proxy -> the framework.

This is how ContainDS Dashboards and jhub-apps serve an app: the hub's proxy routes to a
per-app auth proxy (jhsingle-native-proxy, Tornado) that checks the viewer's hub OAuth
token and proxies to the framework it started. It is installed from PyPI into its own
virtualenv (``.venv-peers``: its pins are not Podium's) and registered with the test
hub as the service ``peer``, so CHP routes ``/services/peer/`` to it, as the hub does
for a running app.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.support.hubstack import ROOT, HubStack

VENV = ROOT / ".venv-peers"
PEER = "jhsingle-native-proxy==0.8.3"
PREFIX = "/services/peer/"

HUB_EXTRA = """
c.JupyterHub.services.append({{
    "name": "peer", "url": "http://127.0.0.1:{port}", "api_token": {token!r},
    "oauth_no_confirm": True,
}})
c.JupyterHub.load_roles[0]["scopes"].append("access:services!service=peer")
"""


def install() -> Path:
    """The jhsingle-native-proxy command, installed on first use."""
    command = VENV / "bin" / "jhsingle-native-proxy"
    if not command.exists():
        print(f"bench: installing {PEER} into {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", PEER],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return command


async def start(stack: HubStack, port: int, token: str, app: Path) -> asyncio.subprocess.Process:
    """jhsingle-native-proxy for alice, serving ``app`` (the benchmarks' aiohttp app)."""
    env = {
        **os.environ,
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{stack.hub_port}/hub/api",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
        "JUPYTERHUB_SERVICE_NAME": "peer",
        "JUPYTERHUB_CLIENT_ID": "service-peer",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": PREFIX + "oauth_callback",
        "JUPYTERHUB_USER": "alice",
        "JUPYTERHUB_ANYONE": "1",  # every hub user with a token for this service, like Podium's
    }
    argv = [
        str(install()), "--ip", "127.0.0.1", "--port", str(port), "--authtype", "oauth",
        "--no-logs", "--ready-check-path", "/", "--last-activity-interval", "0",
        "--", sys.executable, str(app), "--port", "{port}", "--prefix", "/",
    ]  # fmt: skip
    with (stack.dir / "peer.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *argv, cwd=stack.dir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
