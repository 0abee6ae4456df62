"""How Podium meets the hub's OAuth registration, with the hub's own defaults: logins work
wherever the hub registered the callback, and a client the hub refuses stops Podium at
start-up with a message, instead of a hub error page for every viewer."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.support.hubstack import HubStack, browser, browser_login
from tests.support.stacks import stack_fixture

pytestmark = pytest.mark.functional

# The hub's default for a service with a URL: /services/podium/oauth_callback.
HUB_DEFAULT_REDIRECT = 'c.JupyterHub.services[0].pop("oauth_redirect_uri")\n'


stack = stack_fixture("oauth", hub=HUB_DEFAULT_REDIRECT)


async def test_a_login_works_with_the_hubs_default_redirect(stack: HubStack) -> None:
    async with browser() as alice:
        landed = await browser_login(alice, stack, "alice")
        assert str(landed.url) == stack.podium
        async with alice.get(stack.podium + "_/api/user") as r:
            assert (await r.json())["name"] == "alice"
    assert "Redirect uri" not in stack.log("jupyterhub")  # no mismatch, anywhere


async def test_a_client_id_the_hub_refuses_stops_podium_at_start(stack: HubStack) -> None:
    await stack.stop("podium")
    config = stack.dir / "podium_config.py"
    config.write_text(config.read_text() + 'c.Podium.client_id = "service-elsewhere"\n')
    podium = str(Path(sys.executable).parent / "podium")
    with (stack.dir / "refused.log").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            podium, "-f", str(config), cwd=stack.dir, stdout=out, stderr=out
        )
        code = await asyncio.wait_for(process.wait(), 60)
    said = (stack.dir / "refused.log").read_text()
    assert code == 2, said
    assert "not starting" in said and "'service-elsewhere'" in said
    assert said.count("not starting") == 1  # refused once, not started again and again
