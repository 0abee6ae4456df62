"""A hostile dashboard on the real stack, its runner running as its owner's system user
(``c.LocalLauncher.run_as_owner``): it tries to read the gateway's secrets, its database,
its memory, another dashboard's launch spec, log and process, and to talk to that
dashboard's runner without the gateway. Everything must be refused.

Without ``run_as_owner`` a local runner runs as the gateway's own user and can read what
the gateway can: THREAT_MODEL.md says so, and points to it or to Kubernetes for creators
who do not trust each other.
"""

from __future__ import annotations

import json
import pwd
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.support.flows import started
from tests.support.hubstack import ROOT, hub_stack, runner_pid
from tests.support.owners import open_up, shared_python, system_users

pytestmark = pytest.mark.functional
MALLORY, VICTIM = "podium-t-mallory", "podium-t-victim"


def app_folder(user: str, script: str) -> None:
    home = Path(pwd.getpwnam(user).pw_dir) / "app"
    home.mkdir()
    shutil.copy(ROOT / "tests" / "apps" / "custom" / script, home / script)
    for path in (home, home / script):
        shutil.chown(path, user, user)


async def test_a_hostile_runner_reads_nothing_of_the_gateway_or_other_dashboards(
    tmp_path: Path,
) -> None:
    with system_users(MALLORY, VICTIM):
        python = shared_python(tmp_path / "venv")
        uid = str(pwd.getpwnam(MALLORY).pw_uid)
        open_up(tmp_path)  # what protects each file below is its own mode, as on a host
        app_folder(MALLORY, "probe.py")
        app_folder(VICTIM, "bench.py")
        podium = (
            'c.Podium.frameworks = ["custom"]\n'
            "c.LocalLauncher.run_as_owner = True\n"
            # The owner's uid alone, what this test is about (the sandbox on top of it,
            # the default: test_sandbox.py)
            "c.LocalLauncher.sandbox = False\n"
            'c.LocalLauncher.user_root = "/home/{username}"\n'
            f'c.LocalLauncher.runner_command = ["{python}", "-m", "runners"]\n'
        )
        hub = f'c.Authenticator.allowed_users = {{"admin", "{MALLORY}", "{VICTIM}"}}\n'
        async with hub_stack(tmp_path, podium_extra=podium, hub_extra=hub) as stack:
            victim = await stack.token_for(VICTIM)
            await started(stack, victim, VICTIM, {
                "name": "vault", "framework": "custom", "env": {"VAULT_KEY": "s3cr3t"},
                "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"],
                "source": {"type": "storage", "path": "app"},
            })  # fmt: skip
            vault = stack.dir / "runners" / VICTIM / "vault"
            victim_runner = runner_pid(stack, VICTIM, "vault")
            assert victim_runner is not None
            targets = [
                stack.dir / "podium_cookie_secret",
                stack.dir / "podium.sqlite",
                vault / "spec.json",
                vault / "runner.log",
                Path(f"/proc/{stack.processes['podium'].pid}/environ"),  # the supervisor
                Path(f"/proc/{stack.gateway().pid}/environ"),
                Path(f"/proc/{victim_runner}/environ"),
            ]
            guard = json.loads((vault / "spec.json").read_text())["port"]
            mallory = await stack.token_for(MALLORY)
            await started(stack, mallory, MALLORY, {
                "name": "probe", "framework": "custom",
                "command": ["{python}", "probe.py", "--port", "{port}", "--prefix", "{prefix}"],
                "source": {"type": "storage", "path": "app"},
                "env": {"PROBE_FILES": ":".join(map(str, targets)),
                        "PROBE_GUARD": f"127.0.0.1:{guard}",
                        "PROBE_GUARD_PATH": f"/dashboards/{VICTIM}/vault/"},
            })  # fmt: skip
            async with (
                aiohttp.ClientSession(headers={"Authorization": f"token {mallory}"}) as s,
                s.get(f"{stack.podium}{MALLORY}/probe/") as r,
            ):
                assert r.status == 200
                found = await r.json()
    assert found["uid"] == uid, "the runner runs as its owner"
    assert {str(t): found[str(t)] for t in targets} == {str(t): "denied" for t in targets}
    assert found["guard"] == "refused 403", "another dashboard's runner without the gateway"
    assert found["environment"] == "clean", "no token, credential or secret in its environment"
