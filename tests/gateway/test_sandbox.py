"""A hostile dashboard on the default local launcher (no option set: sandboxed), against
the real stack. alice's code tries to read the gateway's and the hub's secrets and
databases, bob's running dashboard's launch spec and log and its process's environment,
bob's storage; to write into bob's storage and next to the gateway's files; to listen on
a second port, bound or not (over plain http a browser sends a site's cookies to every port of its
host); to signal the gateway. Sandboxed, all of it is refused; unsandboxed
(``c.LocalLauncher.sandbox = False``) the same page gets all of it — so the test can fail.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import aiohttp
import pytest

from runners.sandbox import abi
from tests.support.flows import api, started
from tests.support.hubstack import ROOT, hub_stack, runner_pid

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(abi() < 6, reason="Landlock ABI 6 (Linux 6.12) is needed here"),
]


@pytest.mark.parametrize(
    "network", ["private", "host", None], ids=["default", "host network", "unsandboxed"]
)
async def test_a_hostile_dashboard_reaches_nothing_of_anyone_else(
    tmp_path: Path, network: str | None
) -> None:
    sandbox = network is not None
    for user, script in (("alice", "probe.py"), ("bob", "bench.py")):
        home = tmp_path / "home" / user / "app"
        home.mkdir(parents=True)
        shutil.copy(ROOT / "tests" / "apps" / "custom" / script, home / script)
    (tmp_path / "home" / "bob" / "notes.txt").write_text("bob's")
    extra = 'c.Podium.frameworks = ["custom"]\n'
    if not sandbox:
        extra += "c.LocalLauncher.sandbox = False\n"
    elif network != "private":  # the default
        extra += f"c.LocalLauncher.network = {network!r}\n"
    async with hub_stack(tmp_path, podium_extra=extra) as stack:
        bob = await stack.token_for("bob")
        await started(stack, bob, "bob", {
            "name": "vault", "framework": "custom", "env": {"VAULT_KEY": "s3cr3t"},
            "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"],
            "source": {"type": "storage", "path": "app"},
        })  # fmt: skip
        vault = stack.dir / "runners" / "bob" / "vault"
        victim = runner_pid(stack, "bob", "vault")
        reads = [
            stack.dir / "podium_cookie_secret", stack.dir / "podium.sqlite",
            stack.dir / "podium_config.py", stack.dir / "jupyterhub_cookie_secret",
            stack.dir / "jupyterhub.sqlite", vault / "spec.json", vault / "runner.log",
            tmp_path / "home" / "bob" / "notes.txt",
            Path(f"/proc/{stack.gateway().pid}/environ"), Path(f"/proc/{victim}/environ"),
        ]  # fmt: skip
        writes = [tmp_path / "home" / "bob" / "planted.py", stack.dir / "planted"]
        chmods = [stack.dir / "podium_cookie_secret", vault]  # found by the attacker review
        # bob's framework itself, behind his runner's guard (found by the attacker review)
        framework = re.search(r"on (127\.0\.0\.1:\d+)", (vault / "runner.log").read_text())
        assert framework is not None
        alice = await stack.token_for("alice")
        await started(stack, alice, "alice", {
            "name": "probe", "framework": "custom",
            "command": ["{python}", "probe.py", "--port", "{port}", "--prefix", "{prefix}"],
            "source": {"type": "storage", "path": "app"},
            "env": {"PROBE_FILES": ":".join(map(str, reads)),
                    "PROBE_WRITES": ":".join(map(str, writes)),
                    "PROBE_CHMODS": ":".join(map(str, chmods)),
                    "PROBE_CONNECT": framework.group(1),
                    "PROBE_HUB": f"127.0.0.1:{stack.hub_port}",
                    "PROBE_SIGNAL": str(stack.gateway().pid)},
        })  # fmt: skip
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"token {alice}"}) as s,
            s.get(f"{stack.podium}alice/probe/") as r,
        ):
            assert r.status == 200
            found = await r.json()
        # A process outside every sandbox (another local account's) at alice's framework
        probe = re.search(
            r"on 127\.0\.0\.1:(\d+)", (stack.dir / "runners/alice/probe/runner.log").read_text()
        )
        assert probe is not None
        with socket.socket() as s:
            found["from the host"] = (
                "unreachable" if s.connect_ex(("127.0.0.1", int(probe.group(1)))) else "connected"
            )
        # Both dashboards still work as they should.
        assert (await api(stack, bob, "GET", "/dashboards/bob/vault"))[1]["status"] == "ready"
    attempts = [str(p) for p in reads] + [f"write {p}" for p in writes]
    attempts += [f"chmod {p}" for p in chmods] + ["connect", "listen", "listen unbound", "signal"]
    got = {a: found[a] for a in attempts}
    assert found["home"] == "written", "its own home is its to write"
    if sandbox:
        assert not (tmp_path / "home" / "bob" / "planted.py").exists()
    if network == "private":  # nothing of the host's network is there: refused, not denied
        outside = {a: found[a] for a in ("connect", "hub", "from the host")}
        assert all(v.startswith("unreachable") for v in outside.values()), outside
        # Under /tmp (where this test keeps everything) the host's files are not even
        # there: the framework's /tmp is its own (runners/mounts.py); elsewhere, denied.
        rest = {a: v for a, v in got.items() if a != "connect"}
        assert set(rest.values()) <= {"denied", "missing"}, json.dumps(rest, indent=1)
        assert found[str(reads[-1])] == "denied"  # /proc/<bob's runner>/environ
    elif network == "host":  # Landlock's rules; the host's loopback is open, the sandbox's port too
        assert set(got.values()) <= {"denied", "missing"}, json.dumps(got, indent=1)
        assert got["connect"] == "denied" and found[str(reads[-1])] == "denied", got
        assert found["hub"] == found["from the host"] == "connected", found
    else:  # what the sandbox prevents: every one of them
        assert all(
            v.startswith(("read", "written", "changed", "connected", "listening", "signalled"))
            for v in got.values()
        ), got
        assert found["hub"] == found["from the host"] == "connected", found
