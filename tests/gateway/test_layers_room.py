"""All of one owner's requirements layers within the admin's total (runners.room).

The last re-test: one dashboard, its requirements.txt changed five times, left five layers
of 91 MB each, all kept — with no total, an owner fills the disk every owner's layers
share. Before a build, the unused ones go, least recently used first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from runners.errors import RequirementsFailed
from runners.layers import MARKER, finished, hold
from runners.room import IN_USE, KEY_LOCK, make_room
from runners.usage import size_of
from tests.support.processes import NOBODY, SYSTEM_PYTHON, in_namespace, shared_folder, started

MB = 2**20


def by_marker(build: Path) -> tuple[int, bool]:
    """The policy's measure, from what the marker says (a build of 300 MB, not on disk)."""
    marker = finished(build)
    return (marker["bytes"], True) if marker else (size_of(build), False)


def made(cache: Path, key: str, name: str, size: int, used: float) -> Path:
    """A finished build of ``size`` bytes (its marker says so), last used ``used``."""
    build = cache / key / name
    build.mkdir(parents=True)
    (build / MARKER).write_text(json.dumps({"key": key, "bytes": size}))
    (build / IN_USE).touch()
    os.utime(build / IN_USE, (used, used))
    return build


@pytest.mark.unit
def test_the_least_recently_used_unused_builds_go_first(tmp_path: Path) -> None:
    now = time.time()
    oldest = made(tmp_path, "a", "1", 300 * MB, now - 300)
    held = made(tmp_path, "b", "1", 300 * MB, now - 400)  # older still, but an app runs on it
    newer = made(tmp_path, "c", "1", 300 * MB, now - 100)
    hold(str(held))
    make_room(tmp_path, 200 * MB, 1000 * MB, by_marker)  # 900 + 200 > 1000: one must go
    assert not oldest.exists() and held.exists() and newer.exists()
    make_room(tmp_path, 200 * MB, 1000 * MB, by_marker)  # 600 + 200 fits: nothing goes
    assert held.exists() and newer.exists()


@pytest.mark.unit
def test_what_is_not_a_build_goes_first(tmp_path: Path) -> None:
    """The last re-test, on Kubernetes: an install's code wrote 200 MB into the owner's
    layers beside its build, never counted. Strays go before any build."""
    build = made(tmp_path, "a", "1", MB, time.time())
    (tmp_path / "a" / "current").symlink_to("1")
    (tmp_path / "a" / KEY_LOCK).touch()
    (tmp_path / "a" / "beside.bin").write_bytes(b"x" * MB)
    (tmp_path / "top.bin").write_bytes(b"x" * MB)
    (tmp_path / "linked").symlink_to(tmp_path / "a")  # a key folder that is a link
    make_room(tmp_path, MB, 100 * MB, by_marker)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [KEY_LOCK, "1", "current"]
    assert build.exists()


@pytest.mark.unit
def test_builds_in_use_or_being_made_stay_and_the_install_says_why(tmp_path: Path) -> None:
    held = made(tmp_path, "a", "1", 700 * MB, 0)
    hold(str(held))
    making = tmp_path / "b" / "2"
    making.mkdir(parents=True)
    (making / "partial.bin").write_bytes(b"x" * MB)  # no marker yet: another runner's, now
    lock = os.open(tmp_path / "b" / KEY_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The one being made counts at its largest (two starting at once passed the total).
        with pytest.raises(RequirementsFailed, match=r"take 1,000 MB.*limit of 1,000 MB per owner"):
            make_room(tmp_path, 300 * MB, 1000 * MB, by_marker)
        assert held.exists() and making.exists()
    finally:
        os.close(lock)
    # Its maker gone (the lock free, no marker): a build cut short, which goes first.
    make_room(tmp_path, 300 * MB, 1000 * MB, by_marker)
    assert not making.exists() and held.exists()


HOLDER = """
import ctypes, mmap, os, sys, time
f = open(sys.argv[1], "w+b")
f.write(b"x" * (8 << 20))
f.flush()
if sys.argv[2] == "mapped":
    kept = mmap.mmap(f.fileno(), 4096)  # one page of it mapped; the descriptor closed
    f.close()
else:  # kept open by a process that made itself undumpable: its /proc is closed
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
os.unlink(sys.argv[1])
print("ready", flush=True)
time.sleep(60)
"""
MEASURE = """
import sys
sys.path.insert(0, sys.argv[2])
from runners.errors import RequirementsFailed
from runners.usage import unlinked_size
try:
    print(unlinked_size([int(sys.argv[1])]))
except RequirementsFailed as e:
    print(e)
"""


@pytest.mark.functional
@pytest.mark.skipif(os.geteuid() != 0, reason="runs the holder as another user (setpriv)")
@pytest.mark.parametrize(("how", "said"), [("mapped", "keeps a removed file mapped"),
                                           ("undumpable", "hides what it holds")])  # fmt: skip
def test_a_removed_file_held_where_the_runner_cannot_look_fails_the_install(
    how: str, said: str
) -> None:
    """The last re-tests: as the owner's user (``run_as_owner``, a pod) the runner cannot
    read ``/proc/<pid>/map_files`` — a removed 200 MB file, one page of it mapped, counted
    nothing — nor anything of a process that made itself undumpable. Now the install
    fails; as root it is measured, as before."""
    with (
        shared_folder() as where,
        started([*NOBODY, SYSTEM_PYTHON, "-c", HOLDER, f"{where}/big", how], cwd=where) as holder,
    ):
        assert int(measured(holder.pid, where, [])) >= 8 << 20  # root reads map_files
        assert said in measured(holder.pid, where, NOBODY)


def measured(pid: int, where: str, as_user: list[str]) -> str:
    """What the runner's program in ``where`` measures of ``pid``, run as ``as_user``."""
    import subprocess

    argv = [*as_user, SYSTEM_PYTHON, "-c", MEASURE, str(pid), f"{where}/program"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


# x86_64: mmap a page, copy the rest of this code there and jump to it; munmap the program's
# own mapping (0x400000, 16 MB); pause forever. Its file then counts only as its exe.
PINNING = bytes.fromhex(
    "b80900000031ffbe00100000ba0700000041ba2200000049c7c0ffffffff4531c90f054889c3488d350c"
    "0000004889dfb91a000000f3a4ffe3b80b000000bf00004000be000000010f05b8220000000f05ebf7"
)


def pinning_program(path: Path, padding: int) -> None:
    """A static ELF at 0x400000 running PINNING, ``padding`` bytes of data after it."""
    import struct

    start = 64 + 56
    size = start + len(PINNING)
    header = (
        b"\x7fELF"
        + bytes([2, 1, 1])
        + bytes(9)
        + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x400000 + start, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    )
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    with path.open("wb") as f:
        f.write(header + program + PINNING)
        f.write(b"\x01" * padding)
    path.chmod(0o755)


@pytest.mark.functional
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the program is x86_64 code")
def test_a_removed_program_still_running_is_measured(tmp_path: Path) -> None:
    """The re-test: build code ran a program from a file in its build, removed the file
    and unmapped it — 400 MB held as processes' executables alone, no descriptor, no
    mapping: the install succeeded, measured at 0.1 MB. A program's file counts now."""
    import subprocess

    from runners.usage import unlinked_size

    pinned = tmp_path / "pinned"
    pinning_program(pinned, 16 << 20)
    process = subprocess.Popen([str(pinned)])
    try:
        deadline = time.monotonic() + 10
        while "pinned" in Path(f"/proc/{process.pid}/maps").read_text():
            assert time.monotonic() < deadline, "the program kept its mapping"
            time.sleep(0.05)
        pinned.unlink()
        fds = Path(f"/proc/{process.pid}/fd")
        assert not [fd for fd in fds.iterdir() if "pinned" in os.readlink(fd)]  # its exe alone
        assert unlinked_size([process.pid]) >= 16 << 20
    finally:
        process.kill()
        process.wait()


SPAWNING = """
import subprocess, sys, threading, time
sys.path.insert(0, sys.argv[1])
from runners.errors import RequirementsFailed
from runners.pidns import descendants
from runners.usage import unlinked_size
done = False
def spawn():
    while not done:
        subprocess.run(["/bin/true"])
threading.Thread(target=spawn, daemon=True).start()
looks, began = 0, time.monotonic()
try:
    while time.monotonic() < began + 3:
        unlinked_size(descendants())
        looks += 1
    print("measured", looks > 10)
except RequirementsFailed as e:
    print(e)
done = True
"""


@pytest.mark.functional
@pytest.mark.skipif(os.geteuid() != 0, reason="runs as another user (setpriv)")
def test_processes_ending_are_not_taken_for_hiding(tmp_path: Path) -> None:
    """The re-test: an honest build starting many short-lived processes (a compiler's) was
    refused one time in three where the runner is not root — an ending process's
    descriptors cannot be read (its memory goes first), as an undumpable one's."""
    import subprocess

    with shared_folder() as where:
        said = subprocess.run([*NOBODY, SYSTEM_PYTHON, "-c", SPAWNING, f"{where}/program"],
                              capture_output=True, text=True, check=True, cwd=where)  # fmt: skip
    assert said.stdout == "measured True\n", said


LEADERLESS = """
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
with open(sys.argv[1], "wb") as f:
    f.write(b"x" * (8 << 20))
fd = os.open(sys.argv[1], os.O_RDWR)
libc.mmap(None, 8 << 20, 1, 1, fd, 0)  # shared, read: no descriptor once closed
os.close(fd)
os.unlink(sys.argv[1])
threading.Thread(target=lambda: (time.sleep(60), os._exit(0))).start()
print("ready", flush=True)
libc.syscall(60, 0)  # SYS_exit: the main thread alone; the process runs on in the other
"""


@pytest.mark.functional
@pytest.mark.skipif(os.geteuid() != 0, reason="runs the holder as another user (setpriv)")
def test_a_process_whose_main_thread_exited_is_looked_at_through_its_threads() -> None:
    """The seventh re-test: once a process's main thread alone exits, /proc/<pid> shows no
    program and no mapping — 8 x 40 MB mapped so, measured as nothing; and a sweep took
    such a process for gone while it ran on. Its threads are looked at, one by one."""
    import asyncio

    from runners import pidns, procs

    before = pidns.descendants()
    with (
        shared_folder() as where,
        started([*NOBODY, SYSTEM_PYTHON, "-c", LEADERLESS, f"{where}/big"], cwd=where) as holder,
    ):
        time.sleep(0.2)
        pid = holder.pid  # setpriv runs python in its own place
        assert Path(f"/proc/{pid}/maps").read_text() == ""  # nothing, through its main thread
        assert int(measured(pid, where, [])) >= 8 << 20
        assert "keeps a removed file mapped" in measured(pid, where, NOBODY)
        assert procs.alive(pid)
        assert asyncio.run(pidns.sweep(before)) == []  # killed, not taken for gone
        holder.wait(5)  # ended (its status is its main thread's, 0); else TimeoutExpired


MOVING = """
import os, sys, time
a, b = os.path.join(sys.argv[1], "a", "big"), os.path.join(sys.argv[1], "b", "big")
with open(a, "wb") as f:
    f.write(b"x" * (16 << 20))
print("ready", flush=True)
began = time.time()
while time.time() < began + 30:  # behind the walk and back, as fast as it goes
    os.rename(a, b)
    os.rename(b, a)
"""


@pytest.mark.functional
def test_the_walk_sees_files_moved_as_it_goes(tmp_path: Path) -> None:
    """The eighth re-test: build code moved its files from the folder the walk had yet to
    list into the one it had listed, and back — 360 MB past a 100 MB limit for 25 s. The
    install's processes are stopped for the walk as well."""
    from runners.usage import install_usage

    build = tmp_path / "build"
    for name in ("a", "b"):
        (build / name).mkdir(parents=True)
    with in_namespace(MOVING, str(build)) as (process, freezer, before):
        sizes = [install_usage(build, before, freezer, process.pid)[0] for _ in range(30)]
    assert min(sizes) >= 16 << 20, sizes


CONTINUING = """
import os, signal, time
os.setpgid(0, 0)
for _ in range(4):  # each continues the group, as fast as it goes, stopped or not
    if os.fork() == 0:
        began = time.time()
        while time.time() < began + 30:
            os.killpg(0, signal.SIGCONT)
        os._exit(0)
print("ready", flush=True)
time.sleep(30)
"""


@pytest.mark.functional
def test_processes_continuing_each_other_are_stopped_again() -> None:
    """The eighth re-test: processes sending SIGCONT to their group undo the first
    process's single pass of SIGSTOP. The watch stops them again until none runs."""
    from runners import procs
    from runners.usage import _stay_stopped

    with in_namespace(CONTINUING) as (process, freezer, _):
        ours = {process.pid, *procs.children(process.pid)}
        time.sleep(0.2)
        for _ in range(10):
            with freezer.frozen() as stopped:
                assert stopped
                _stay_stopped(freezer, lambda: set(procs.children(process.pid, True)) - ours)
                install = set(procs.children(process.pid, True)) - ours
                states = [(procs.stat(p) or ("Z",))[0] for p in install]
            assert len(states) == 5 and set(states) <= {"T", "D"}, states


RESUMING = """
import ctypes, os, signal, threading, time
libc = ctypes.CDLL(None, use_errno=True)
class Sigevent(ctypes.Structure):
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("pad", ctypes.c_int * 12)]
class Spec(ctypes.Structure):
    _fields_ = [("interval_s", ctypes.c_long), ("interval_ns", ctypes.c_long),
                ("value_s", ctypes.c_long), ("value_ns", ctypes.c_long)]
signal.signal(signal.SIGCONT, lambda *_: None)  # a timer whose signal is ignored is parked
timers = []
for _ in range(8):
    timer = ctypes.c_void_p()
    event = Sigevent(None, signal.SIGCONT, 0)  # SIGEV_SIGNAL
    assert libc.timer_create(1, ctypes.byref(event), ctypes.byref(timer)) == 0
    timers.append(timer)
every = Spec(0, 1_000_000, 0, 1_000_000)
def rearm():
    began = time.time()
    while time.time() < began + 30:
        for timer in timers:
            libc.timer_settime(timer, 0, ctypes.byref(every), None)
        time.sleep(0.0005)
    os._exit(0)
threading.Thread(target=rearm).start()
print("ready", flush=True)
time.sleep(0.1)
libc.syscall(60, 0)  # the main thread exits: /proc/<pid> says Z
"""


@pytest.mark.functional
def test_a_thread_resuming_its_process_from_timers_is_seen() -> None:
    """The ninth re-test: a thread behind an exited main thread (its /proc/<pid> said Z)
    kept its process running through every look, continued by its own timers' SIGCONT
    (20 looks in 20 here). Each thread's state counts: stopped, or the install fails."""
    from runners import procs
    from runners.usage import _stay_stopped

    escaped = 0
    with in_namespace(RESUMING) as (process, freezer, _):
        ours = {process.pid, *procs.children(process.pid)}
        time.sleep(0.3)
        for _ in range(5):
            with freezer.frozen(), contextlib.suppress(RequirementsFailed):
                _stay_stopped(freezer, lambda: set(procs.children(process.pid, True)) - ours)
                install = set(procs.children(process.pid, True)) - ours
                states = {(procs.stat(t) or ("Z",))[0] for p in install for t in procs.threads(p)}
                escaped += bool(states & {"R", "S"})
    assert escaped == 0


@pytest.mark.unit
def test_builds_cut_short_go_at_the_next_install_of_their_layer(tmp_path: Path) -> None:
    """The thirteenth re-test: four installs killed mid-way left four builds of one layer;
    the next install of it (holding the key's lock, so taken for one of them being made)
    counted each at the size limit and refused itself for a day. Those under the key it
    holds are leftovers: gone before room is made; a finished build stays a day."""
    from runners.layers import CURRENT, Builder
    from runners.spec import Requirements

    key = tmp_path / "key"
    done = made(tmp_path, "key", "done", MB, time.time())
    old = made(tmp_path, "key", "replaced", MB, time.time())  # a rebuild's: kept a day
    (key / CURRENT).symlink_to("done")
    cut = [key / f"cut-{i}" for i in range(4)]
    for build in cut:
        build.mkdir()
        (build / "partial.bin").write_bytes(b"x" * 4096)  # no marker: never finished
    Builder(Requirements(str(tmp_path)), "python3", None, {}, print, print)._sweep(key)
    assert done.exists() and old.exists() and not [b for b in cut if b.exists()]


@pytest.mark.unit
async def test_a_layer_being_removed_is_not_taken(tmp_path: Path) -> None:
    """The thirteenth re-test: a start took its key's layer while the owner's other start
    removed it to make room, and its app was handed a Python that no longer existed. A
    removal holds the build's lock alone and moves it out of its path first; a start that
    finds it so makes the layer again rather than wait for it to go."""
    import asyncio

    from runners.layers import CURRENT, Builder
    from runners.room import remove_unless_held
    from runners.spec import Requirements

    build = made(tmp_path, "key", "1", MB, time.time())
    (tmp_path / "key" / CURRENT).symlink_to("1")
    (build / "bin").mkdir()
    builder = Builder(Requirements(str(tmp_path)), "python3", None, {}, print, print)
    removing = os.open(build / IN_USE, os.O_RDWR)
    fcntl.flock(removing, fcntl.LOCK_EX)  # a removal under way
    try:
        found = await asyncio.wait_for(
            asyncio.to_thread(builder._current, tmp_path / "key", "k"), 5
        )
        assert found is None
    finally:
        os.close(removing)
    assert remove_unless_held(build) and not list((tmp_path / "key").glob("*1"))
    assert builder._current(tmp_path / "key", "k") is None  # gone: not taken either
