"""The framework's own view of the host's shared, socket-holding places (with a network of
its own: runners.netns gives it a user and a mount namespace).

Landlock does not restrict connecting to a Unix socket that has a path, and such sockets
ignore network namespaces: a sandboxed framework running as root (the demo's gateway's
user) is the owner of root's sockets — the system bus, systemd's and a container
engine's sockets under ``/run``, the gateway's own under ``/tmp`` (found by the third
attacker review), and so are sockets in ``/root``, ``/var/lib`` (a container engine's,
a directory service's), ``/var/spool`` or users' homes (the fourth). So in the
framework's mount namespace every such place is an empty, private tmpfs; only the paths
its sandbox names that live under them (its home, its owner's storage, its Python — under
``/root/.pyenv`` or a test's checkout under /tmp) are bound back, each where it was.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable, Sequence

SHARED = ("/tmp", "/var/tmp", "/dev/shm")  # noqa: S108  (anyone writes there: sticky)
HIDDEN = (
    *SHARED, "/run", "/root", "/home", "/var/lib", "/var/spool", "/var/snap", "/var/cache",
    "/var/log", "/var/mail", "/srv", "/mnt", "/media", "/opt",
)  # fmt: skip
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC = 0x2, 0x4, 0x1000, 0x4000


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths not inside another of them (binding those binds the rest)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def plan(keep: Sequence[str], hidden: Sequence[str] = HIDDEN) -> dict[str, list[str]]:
    """For each place to hide (as the kernel resolves it; once): the paths to bind back
    under it. A place inside a path to keep stays as it is; a place named itself (the
    sandbox's writable ``/dev/shm``) is the framework's own, empty one."""
    roots = {os.path.realpath(place) for place in hidden}
    real = [os.path.realpath(p) for p in keep if os.path.lexists(p)]
    real = [p for p in real if p not in roots]
    found: dict[str, list[str]] = {}
    for place in hidden:
        root = os.path.realpath(place)
        if root in found or not os.path.isdir(root):
            continue
        if any(root == k or root.startswith(k.rstrip("/") + "/") for k in real):
            continue
        found[root] = outermost(p for p in real if p.startswith(root + "/"))
    return found


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.mount(
        source.encode() if source else None,
        target.encode(),
        kind.encode() if kind else None,
        flags,
        data.encode() if data else None,
    )
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def hide(keep: Sequence[str]) -> None:
    """In the framework's process, in a mount namespace of its own (single-threaded,
    before exec): empty the places of :data:`HIDDEN`, binding ``keep`` back."""
    cwd = os.getcwd()
    for root, back in plan(keep).items():
        held = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in back]
        mode = "mode=1777" if root in SHARED else "mode=755"
        _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, mode)
        for path, fd in held:
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                os.makedirs(path, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            _mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC, "")
            os.close(fd)
    os.chdir(cwd)  # the same folder, seen through its binding
