"""Direct connections: a local runner's guard hands the gateway a connection to its framework
(runners.direct, gateway.front.direct), so viewers' requests cross one relay, not two.

Proved by stopping the runner (SIGSTOP): its guard then relays nothing and hands nothing
over, yet a connection it handed over before still carries requests to the framework. The
way in wants the launch's credential and the runner's own process; the guard's own
answers (its health) still come from the guard; a gateway told not to asks for none.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from gateway.front.direct import HandedOver
from runners.contract import DIRECT_FRAMEWORK as F
from runners.contract import DIRECT_GUARD as G
from runners.names import folder_name
from tests.support.flows import PROBE, started
from tests.support.harness import APPS
from tests.support.hubstack import HubStack, client, hub_stack, serving

pytestmark = pytest.mark.functional
OWNER = "jane.doe@example.org"  # as JupyterHub allows: her links and folders spell it so


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["direct", "off"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("direct")
    (tmp / "home" / OWNER / "probe").mkdir(parents=True)
    shutil.copy(APPS / "custom" / "inspect_app.py", tmp / "home" / OWNER / "probe")
    extra = 'c.Podium.frameworks = ["custom"]\n'
    if request.param == "off":
        extra += "c.LocalLauncher.direct_connections = False\n"
    async with hub_stack(tmp, podium_extra=extra) as s:
        await s.hub_api("POST", f"/users/{quote(OWNER, safe='@~')}")  # a hub user now
        await started(s, await s.token_for(OWNER), OWNER, PROBE)
        yield s


def spec(stack: HubStack) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        (stack.dir / "runners" / folder_name(OWNER) / "probe" / "spec.json").read_text()
    )
    return found


def direct(stack: HubStack) -> bool:
    return "direct_connections = False" not in (stack.dir / "podium_config.py").read_text()


async def test_requests_go_past_a_stopped_guard_on_a_connection_it_handed_over(
    stack: HubStack,
) -> None:
    bob = {"Authorization": f"token {await stack.token_for('bob')}"}
    page = stack.dashboard(OWNER, "probe") + "headers"
    runner = serving(spec(stack)["port"])
    async with client(headers=bob) as session:
        async with session.get(page) as r:  # the gateway now keeps a connection upstream
            assert r.status == 200
        runner.send_signal(signal.SIGSTOP)
        try:
            async with session.get(page, timeout=aiohttp.ClientTimeout(total=4)) as r:
                assert r.status == 200
                headers = {k.lower() for k, _ in (await r.json())["headers"]}
            assert direct(stack)  # through the guard, the runner answered while stopped
            assert "x-podium-credential" not in headers and "x-podium-user" in headers
        except TimeoutError:
            assert not direct(stack)  # without direct connections the guard relays it all
        finally:
            runner.send_signal(signal.SIGCONT)


async def test_the_guard_still_answers_its_own_health(stack: HubStack) -> None:
    bob = {"Authorization": f"token {await stack.token_for('bob')}"}
    health = stack.dashboard(OWNER, "probe") + "_podium/health"
    async with client(headers=bob) as session, session.get(health) as r:
        assert r.status == 200
        assert (await r.json())["state"] == "ready"  # the guard's, not the framework's 404


async def test_the_way_in_wants_the_credential_and_the_runners_own_process(
    stack: HubStack,
) -> None:
    found = spec(stack)
    if not direct(stack):
        assert "direct" not in found  # the runner was told of no socket: it opens none
        return
    name, credential = found["direct"], found["credential"]
    runner = serving(found["port"])
    with pytest.raises(OSError) as refused:
        await HandedOver(name, F, runner.pid, runner.create_time(), "x" * len(credential)).connect()
    assert refused.value.errno == errno.EACCES
    with pytest.raises(OSError) as elsewhere:
        await HandedOver(name, F, os.getpid(), runner.create_time(), credential).connect()  # not it
    assert elsewhere.value.errno == errno.EPERM
    with pytest.raises(OSError):
        await HandedOver(name + "-not", F, runner.pid, runner.create_time(), credential).connect()
    with pytest.raises(OSError) as later:  # its pid, but a process started since
        await HandedOver(name, F, runner.pid, runner.create_time() + 5, credential).connect()
    assert later.value.errno == errno.EPERM
    connection = await HandedOver(name, F, runner.pid, runner.create_time(), credential).connect()
    with connection:  # the framework itself: what the guard would refuse, it answers
        connection.setblocking(True)
        connection.settimeout(5)
        connection.sendall(
            f"GET /dashboards/{OWNER}/probe/headers HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert connection.recv(64).startswith(b"HTTP/1.1 200")
    # What the guard answers itself comes from it on a connection it hands over too: the
    # gateway sends the credential to no TCP port (one a local process could take over
    # once the runner died: the review of direct connections).
    with pytest.raises(OSError) as wrong:
        await HandedOver(name, G, runner.pid, runner.create_time(), "x" * 32).connect()
    assert wrong.value.errno == errno.EACCES
    head = f"Host: x\r\nX-Podium-Credential: {credential}\r\n\r\n"
    for path, said in ((f"/dashboards/{OWNER}/probe/_podium/health", b'"state": "ready"'),
                       ("/elsewhere", b"HTTP/1.1 404")):  # fmt: skip
        guard = await HandedOver(name, G, runner.pid, runner.create_time(), credential).connect()
        with guard:  # (the guard closes a connection after an answer of its own)
            guard.setblocking(True)
            guard.settimeout(5)
            guard.sendall(f"GET {path} HTTP/1.1\r\n{head}".encode())
            assert said in guard.recv(4096)


async def test_nothing_but_a_short_name_is_a_runners_socket() -> None:
    from runners.errors import SpecError
    from runners.spec import parse_spec

    base = {
        "framework": "custom", "custom": {"command": ["true"]}, "prefix": "/d/a/b/",
        "port": 0, "credential": "c" * 32, "source": {"type": "directory", "root": "/tmp"},
    }  # fmt: skip
    assert parse_spec({**base, "direct": "podium-direct-0123abcd"}).direct
    for bad in ("", "a/b", "\x00x", "x" * 101, "a b", 7):
        if bad == "":
            assert parse_spec({**base, "direct": bad}).direct == ""
            continue
        with pytest.raises(SpecError):
            parse_spec({**base, "direct": bad})
