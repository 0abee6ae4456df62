"""``podium publish`` and friends where creators run them: a terminal of their own
JupyterHub server, spawned by the real hub, with the server's token and API URL and no
configuration of ours — then bob opens what alice published.

The hub spawns alice's server (jupyterhub-singleuser, SimpleLocalProcessSpawner, her home
the folder Podium runs her files from); the test types into a terminal of it over the
Jupyter terminals WebSocket, as she would.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.support.flows import streamlit_round_trip
from tests.support.hubstack import HubStack, documented_roles
from tests.support.stacks import stack_fixture

PODIUM = Path(sys.executable).parent / "podium"


HUB = f"""
from pathlib import Path
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(Path(__file__).parent / "home" / "{{username}}")
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
# docs/admin.md's roles for users and their servers (docs/creators.md needs them).
c.JupyterHub.load_roles = [
    r for r in c.JupyterHub.load_roles if r["name"] not in ("user", "server")
] + {documented_roles()!r}
"""
stack = stack_fixture(
    "cli",
    files={
        "alice/apps/sales/app.py": "streamlit/app.py",
        "alice/notes/readme.py": "custom/bench.py",
        "alice/more/sales.py": "streamlit/app.py",
    },
    hub=HUB,
)
EXIT = re.compile(r"EXIT=(\d+)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Terminal:
    """A terminal of alice's server, typed into as she would."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def run(self, command: str, timeout: float = 240) -> tuple[int, str]:
        """Type ``command``; its exit code and what the terminal showed after it."""
        await self.ws.send_str(json.dumps(["stdin", f"{command}; echo EXIT=$?\r"]))
        shown = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = await self.ws.receive(timeout=deadline - time.monotonic())
            assert msg.type == aiohttp.WSMsgType.TEXT, (msg, shown)
            kind, *rest = json.loads(msg.data)
            if kind == "stdout":
                shown += ANSI.sub("", rest[0])
                # The typed line echoes "EXIT=$?"; the shell's answer is a number.
                if found := EXIT.search(shown):
                    return int(found.group(1)), shown[: found.start()]
        raise AssertionError(f"{command!r} did not finish: {shown[-2000:]}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def terminal(stack: HubStack) -> AsyncIterator[Terminal]:
    token = await stack.token_for("alice")
    headers = {"Authorization": f"token {token}"}
    server, hub = f"{stack.base}/user/alice", f"{stack.base}/hub/api/users/alice"
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(f"{hub}/server") as r:  # as her hub home page's Start does
            assert r.status in (201, 202), await r.text()
        deadline = time.monotonic() + 150
        while True:
            async with s.get(hub) as r:
                if (await r.json())["servers"].get("", {}).get("ready"):
                    break
            assert time.monotonic() < deadline, stack.log("jupyterhub")[-3000:]
            await asyncio.sleep(0.5)
        async with s.post(f"{server}/api/terminals") as r:
            assert r.status == 200, await r.text()
            name = (await r.json())["name"]
        ws_url = f"{server}/terminals/websocket/{name}".replace("http", "ws", 1)
        async with s.ws_connect(ws_url) as ws:
            t = Terminal(ws)
            await t.run("cd ~ && export TERM=dumb")
            yield t
        async with s.delete(f"{hub}/server"):
            pass


pytestmark = [pytest.mark.functional, pytest.mark.asyncio(loop_scope="session")]


async def test_alice_publishes_from_her_terminal_and_bob_opens_it(
    stack: HubStack, terminal: Terminal
) -> None:
    code, shown = await terminal.run(f"{PODIUM} publish apps/sales/app.py --to group:analysts")
    assert code == 0, shown
    assert "framework: streamlit (guessed: it imports streamlit" in shown, shown
    assert "published sales" in shown and "sales: ready" in shown, shown
    assert "/dashboards/alice/sales/" in shown, shown
    bob = await stack.token_for("bob")
    async with aiohttp.ClientSession(headers={"Authorization": f"token {bob}"}) as s:
        await streamlit_round_trip(s, stack, "alice/sales/")  # bob, in analysts, sees it
    carol = await stack.token_for("carol")
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"token {carol}"}) as s,
        s.get(stack.podium + "alice/sales/", headers={"Accept": "text/html"}) as r,
    ):
        assert r.status == 403  # carol is not in analysts

    # Publishing the same name again updates it (a title now), keeping who may view it.
    code, shown = await terminal.run(
        f"{PODIUM} publish apps/sales/app.py --title 'Sales by region' --json 2>/dev/null"
    )
    assert code == 0, shown
    doc = json.loads(shown[shown.index("{") :])
    assert doc["title"] == "Sales by region" and doc["status"] == "ready", doc
    assert doc["access"] == {"mode": "restricted", "users": [], "groups": ["analysts"]}, doc
    assert doc["link"].endswith("/dashboards/alice/sales/"), doc

    code, shown = await terminal.run(f"{PODIUM} list")
    assert code == 0 and re.search(r"sales\s+streamlit\s+ready", shown), shown
    code, shown = await terminal.run(f"{PODIUM} logs sales --lines 50")
    assert code == 0 and "streamlit" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} stop sales")
    assert code == 0 and "sales: stopped" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} delete sales --yes")
    assert code == 0 and "deleted sales" in shown, shown


async def test_what_goes_wrong_is_said_with_an_exit_code(terminal: Terminal) -> None:
    code, shown = await terminal.run(f"{PODIUM} status nosuch")
    assert code == 1 and "podium status:" in shown and "nosuch" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} publish notes/missing.py")
    assert code == 2 and "no such file" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} publish notes/readme.py")  # aiohttp: no framework
    assert code == 2 and "cannot tell the framework of readme.py" in shown, shown
    assert "choose one with --framework" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} publish /etc/hostname --framework custom")
    assert code == 2 and "outside your storage" in shown, shown
    # Another file whose guessed name is sales: refused, never replacing her app.
    code, shown = await terminal.run(f"{PODIUM} publish apps/sales/app.py --no-wait")
    assert code == 0, shown
    code, shown = await terminal.run(f"{PODIUM} publish more/sales.py")
    assert code == 1 and "sales is already your dashboard of apps/sales/app.py" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} status sales --json")
    assert code == 0 and '"entry": "app.py"' in shown, shown
    assert (await terminal.run(f"{PODIUM} delete sales --yes"))[0] == 0
    code, shown = await terminal.run(f"{PODIUM} list --service elsewhere")
    assert code == 3 and "the hub did not say where its service 'elsewhere' is" in shown, shown
    code, shown = await terminal.run(f"{PODIUM} list --token not-a-token")
    assert code == 3, shown
