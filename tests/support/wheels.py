"""Wheels and environments built here, offline: a package of a chosen version, and a
venv with it installed (for the environment tests; never the network)."""

from __future__ import annotations

import base64
import hashlib
import inspect
import subprocess
import sys
import zipfile
from pathlib import Path


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(
    folder: Path, name: str, version: str, code: str = "", extra: dict[str, str] | None = None
) -> Path:
    """A pure-Python wheel of package ``name`` whose ``__version__`` is ``version``
    (``extra``: more files at the top of site-packages, such as a ``.pth``)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": (code or f"__version__ = {version!r}\n").encode(),
        **{path: text.encode() for path, text in (extra or {}).items()},
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: podium-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},{_digest(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name_, data in files.items():
            z.writestr(name_, data)
    return path


def venv(where: Path, *wheels: Path) -> Path:
    """A venv of this machine's base Python (none of the test environment's packages)
    with ``wheels`` installed; its interpreter."""
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    if wheels:
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
             "--target", site, *map(str, wheels)],
            check=True,
        )  # fmt: skip
    return python


def sdist(folder: Path, name: str, version: str, backend: str) -> Path:
    """A source distribution of ``name`` built by ``backend`` (its own PEP 517 build
    backend, needing nothing from any index): what a requirements.txt line may bring,
    whose build code pip runs."""
    import io
    import tarfile

    root = f"{name}-{version}"
    files = {
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
        'backend-path = ["."]\n',
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "backend.py": backend,
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for file, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{file}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# For a build backend of :func:`sdist`'s: ``built(wheel_directory, name, version, code)``
# makes the wheel :func:`wheel` does (its code copied in: a backend imports nothing of ours)
# and returns its file name — what ``build_wheel`` returns.
BUILDS = (
    "import base64, hashlib, zipfile\nfrom pathlib import Path\n"
    + inspect.getsource(_digest)
    + inspect.getsource(wheel)
    + "def built(wheel_directory, name, version, code=''):\n"
    "    return wheel(Path(wheel_directory), name, version, code).name\n"
)
# A build whose process holds 120 MB of removed files while changing its pid every 2 ms
# (the re-test that outran the size watch's list of pids).
CHURNING = (
    BUILDS
    + r"""
import os, sys, time

def _hop():  # a new pid: the parent exits, the child goes on with every descriptor
    if os.fork():
        os._exit(0)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = os.path.realpath(sys.prefix)
    piece = os.urandom(256 << 10)
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for i in range(4):  # 4 x 30 MB, a piece per pid, each file removed and kept open
            path = os.path.join(build, f"held{i}")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            for _ in range(30 * 4):
                os.write(fd, piece)
                _hop()
            os.unlink(path)
        began = time.time()
        while time.time() < began + 10:
            _hop()
            time.sleep(0.002)
        os._exit(0)
    time.sleep(16)
    return built(wheel_directory, "podium_churn", "1.0")
"""
)
# A build backend whose build leaves a process behind: out of pip's group and session,
# its input and output closed, changing its pid all the time, writing the layer (sys.prefix
# of the interpreter pip builds for) for 20 s — ``late`` after 3 s.
LINGERING = (
    BUILDS
    + r"""
import os, sys, time

def _linger():
    if os.fork():
        return
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    began = beaten = time.time()
    while time.time() < began + 20:
        if os.fork():
            os._exit(0)
        if time.time() > beaten + 0.05:
            beaten = time.time()
            with open(os.path.join(sys.prefix, "beat"), "w") as f:
                f.write(str(beaten))
        if time.time() > began + 3:
            open(os.path.join(sys.prefix, "late"), "w").close()
    os._exit(0)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _linger()
    return built(wheel_directory, "podium_linger", "1.0")
"""
)
# Build code continued by its own timer (SIGCONT, 25 ms after it last ran) while the size
# watch looks: it moves what it holds (360 MB) out of a folder the walk enters late, behind
# 20,000 empty files, into the top folder the walk listed first, and back 0.3 s later (the
# tenth re-test: 700 MB past a 300 MB limit for 38 s, unseen).
WAKING = (
    BUILDS
    + r"""
import ctypes, os, signal, sys, time

class _Event(ctypes.Structure):  # struct sigevent: SIGEV_SIGNAL, its signal
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int),
                ("notify", ctypes.c_int), ("pad", ctypes.c_int * 12)]

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    libc = ctypes.CDLL(None, use_errno=True)
    build = os.path.realpath(sys.prefix)
    if os.path.exists(os.path.join(build, "filler")):  # pip's second call (the first: metadata)
        return built(wheel_directory, "podium_waking", "1.0")
    signal.signal(signal.SIGCONT, lambda *_: None)
    timer = ctypes.c_void_p()
    event = _Event(None, signal.SIGCONT, 0)
    assert libc.timer_create(1, ctypes.byref(event), ctypes.byref(timer)) == 0  # MONOTONIC
    soon = (ctypes.c_long * 4)(0, 0, 0, 25_000_000)  # once, in 25 ms
    late = os.path.join(build, "filler", "zz")
    names, moved, when, last = [], [], 0.0, time.monotonic()

    def tick():  # each time it runs: the timer again; once continued by it, the move
        nonlocal when, last
        libc.timer_settime(timer, 0, soon, None)
        now = time.monotonic()
        if not moved and now - last > 0.015:  # stopped, then continued: a look
            for name in names:
                os.rename(os.path.join(late, name), os.path.join(build, name))
                moved.append(name)
            when = now
        elif moved and now - when > 0.3:
            for name in moved:
                os.rename(os.path.join(build, name), os.path.join(late, name))
            moved.clear()
        last = time.monotonic()

    tick()
    os.makedirs(late)
    for i in range(20000):
        open(os.path.join(build, "filler", str(i)), "w").close()
        tick()
    piece = b"x" * (1 << 20)
    for i in range(3):
        with open(os.path.join(late, f"held{i}"), "wb") as f:
            names.append(f"held{i}")
            for _ in range(120):
                f.write(piece)
                f.flush()
                tick()
    began = time.monotonic()
    while time.monotonic() < began + 12:
        time.sleep(0.001)
        tick()
    return built(wheel_directory, "podium_waking", "1.0")
"""
)
# Build code that makes the size watch's look slow (150 threads, each with 4,000
# descriptors to look at: seconds here), then, once a look has passed, holds 320 MB for 4 s
# and removes it: with the next look four times the last one's time away, unseen (the
# eleventh re-test: 800 MB past a 100 MB limit for 17 s).
STRETCHING = (
    BUILDS
    + r"""
import os, sys, threading, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = os.path.realpath(sys.prefix)
    done = os.path.join(build, "done")
    if os.path.exists(done):  # pip's second call (the first: metadata)
        return built(wheel_directory, "podium_stretching", "1.0")
    first = os.open(os.devnull, os.O_RDONLY)
    held = [os.dup(first) for _ in range(4000)]
    idle = threading.Event()
    for _ in range(150):
        threading.Thread(target=idle.wait, daemon=True).start()
    last = time.monotonic()
    while time.monotonic() - last < 1.0:  # until a look (stopped over a second) has passed
        last = time.monotonic()
        time.sleep(0.01)
    piece, paths = b"x" * (1 << 20), [os.path.join(build, f"held{i}") for i in range(4)]
    for path in paths:  # each file within the limit, their sum not
        with open(path, "wb") as f:
            for _ in range(80):
                f.write(piece)
    time.sleep(4)
    for path in paths:
        os.unlink(path)
    open(done, "w").close()
    idle.set()
    for fd in held:
        os.close(fd)
    return built(wheel_directory, "podium_stretching", "1.0")
"""
)
# Build code that puts 20 MB in a folder of the build it makes unreadable (0300), then waits
# for a measure to fail on it (a runner that is not root cannot look in, nor remove it: the
# twelfth re-test left 84 MB on the layers claim at each failed start, counted as gone).
VAULT = (
    BUILDS
    + r"""
import os, sys, time

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    vault = os.path.join(os.path.realpath(sys.prefix), "vault")
    os.mkdir(vault, 0o300)
    shut = os.path.join(vault, "shut")
    os.mkdir(shut)
    with open(os.path.join(shut, "held"), "wb") as f:
        f.write(b"x" * (20 << 20))
    os.chmod(shut, 0)
    time.sleep(15)
    return built(wheel_directory, "podium_vault", "1.0")
"""
)
# Build code in a pod, where an install may chmod (Landlock does not bound it): the
# folders above its build made read-only, and ``{victim}`` (another layer of the owner's,
# by path) made unreadable (the fourteenth re-test: the runner crashed, and every later
# install of the owner's was refused).
TAMPERING = (
    BUILDS
    + r"""
import os, sys

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build = os.path.realpath(sys.prefix)
    for path in ({victim!r}, os.path.dirname(build), os.path.dirname(os.path.dirname(build))):
        try:
            os.chmod(path, 0 if path == {victim!r} else 0o555)
        except OSError:
            pass
    return built(wheel_directory, "podium_tampering", "1.0")
"""
)
