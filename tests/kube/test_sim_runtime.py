"""A simulated container is what a container runtime makes of it (tests/kubesim/container.py):
a PID namespace of its own — its command is its pid 1 and sees its own processes only —
and RuntimeDefault's rule on namespaces: none may be made, a user namespace above all.
What a runner can do in the simulated cluster is then what it can do in a real pod."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.kubesim import Cluster, simulated_cluster
from tests.support.kubestack import pod, said

pytestmark = [pytest.mark.functional]

PROBE = r"""
import ctypes, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
print("pid", os.getpid())
print("processes", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
for name, flags in (("user", 0x10000000), ("pid", 0x20000000), ("user+pid", 0x30000000)):
    print(name, libc.unshare(flags), ctypes.get_errno())
print("unshare(1)", subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                                   capture_output=True).returncode)
threading.Thread(target=print, args=("a thread",)).start()
child = subprocess.run(["sh", "-c", "echo $PPID"], capture_output=True, text=True)
print("a child of", child.stdout.strip())
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with simulated_cluster(tmp_path_factory.mktemp("runtime")) as c:
        yield c


async def test_a_container_has_its_own_pids_and_makes_no_namespace(kube: Cluster) -> None:
    assert kube.api is not None
    name = f"probe-{secrets.token_hex(3)}"
    kube.api.create("pods", kube.namespace, pod(name, {"app": "probe"}, ["python", "-c", PROBE]))
    lines = (await said(kube, name)).splitlines()
    assert "pid 1" in lines and "processes [1]" in lines, lines
    for refused in ("user -1 1", "pid -1 1", "user+pid -1 1"):  # EPERM
        assert refused in lines, lines
    assert "unshare(1) 0" not in lines and any(x.startswith("unshare(1) ") for x in lines)
    assert "a thread" in lines and "a child of 1" in lines, lines  # fork and threads as ever
