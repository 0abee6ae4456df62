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
