"""An install's own PID namespace (runners.pidns): the reaper passes pip's exit on, and
nothing started inside outlives the first process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runners import pidns
from tests.support.processes import in_namespace


def run(argv: list[str], own_namespace: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pidns.wrap(argv), capture_output=True, text=True, timeout=30,
        preexec_fn=(lambda: pidns.enter(False)) if own_namespace else None,
    )  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize("own_namespace", [False, True])
def test_the_reaper_exits_as_its_program_did(own_namespace: bool) -> None:
    assert run(["/bin/sh", "-c", "exit 3"], own_namespace).returncode == 3
    if not own_namespace:  # (a namespace's first process cannot be killed from inside it)
        assert run(["/bin/sh", "-c", "kill -9 $$"], own_namespace).returncode == 128 + 9
    said = run(["/bin/sh", "-c", "echo $$"], own_namespace).stdout.strip()
    assert (said == "1") is own_namespace  # the first process of its own namespace


@pytest.mark.unit
@pytest.mark.parametrize("own_namespace", [False, True])
def test_a_process_left_behind_ends_with_the_first(tmp_path: Path, own_namespace: bool) -> None:
    """A daemon (its own session, its output closed) that writes in 2 s: in a namespace
    of its own, gone the moment the program it came from exits (without: it writes)."""
    proof = os.path.join(tmp_path, "late")
    code = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid(); os.closerange(0, 3)\n"
        "    time.sleep(2); open(sys.argv[1], 'w').close()\n"
    )
    assert run([sys.executable, "-c", code, proof], own_namespace).returncode == 0
    time.sleep(3)
    assert os.path.exists(proof) is not own_namespace


HOPPING = """
import os, sys, time
if os.fork() == 0:  # pip's build code, pip waiting for it
    for _ in range(200):  # a new pid each time: the parent exits, its child is an orphan
        if os.fork():
            os._exit(0)
    print("ready", flush=True)
    time.sleep(3)
    os._exit(0)
time.sleep(3)
"""


@pytest.mark.unit
def test_the_namespace_is_frozen_on_demand_and_its_orphans_reaped() -> None:
    """The first process of an install's namespace stops and continues the rest when the
    runner asks (its size watch looks meanwhile), and reaps the namespace's orphans (the
    seventh re-test: 3001 zombies kept until the install ended, pids of the whole machine)."""
    from runners import procs

    with in_namespace(HOPPING) as (_, freezer, before):
        time.sleep(0.3)
        found = pidns.descendants() - before
        states = {pid: (procs.stat(pid) or ("?",))[0] for pid in found}
        assert list(states.values()).count("Z") < 5, states  # none kept but in passing
        with freezer.frozen() as stopped:
            assert stopped
            frozen = {(procs.stat(pid) or ("?",))[0] for pid in pidns.descendants() - before}
        assert "T" in frozen and "R" not in frozen
        time.sleep(0.1)
        assert "T" not in {(procs.stat(pid) or ("?",))[0] for pid in pidns.descendants() - before}


SEGMENT = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
segment = libc.shmget(int(sys.argv[1]), 1 << 20, 0o1666)  # IPC_CREAT, anyone's
assert segment >= 0, ctypes.get_errno()
libc.shmdt(ctypes.c_void_p(libc.shmat(segment, None, 0)))
print("ready", flush=True)
"""


@pytest.mark.unit
def test_a_system_v_segment_ends_with_the_install() -> None:
    """The ninth re-test: a segment an install made (512 MB) outlived it, readable by
    any user. The install has an IPC namespace of its own: the host never sees it."""
    key = 0x50D10000 + os.getpid() % 0xFFFF

    def host_keys() -> set[int]:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
        return {int(line.split()[0]) for line in lines}

    with in_namespace(SEGMENT, str(key)):
        assert key not in host_keys()
    assert key not in host_keys()
