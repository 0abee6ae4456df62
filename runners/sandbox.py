"""The framework's sandbox on a local host: Landlock, the Linux kernel's own, unprivileged.

A local runner's framework runs its owner's code as the gateway's user (or the
owner's, ``run_as_owner``). Before that code starts, the framework's process is
restricted, for good and for everything it starts, to:

- reading the system (``/usr``, the Python it runs, a short list of ``/etc``), and
  what the launcher names as the dashboard's (the owner's storage, read-only);
- writing only its own places: a private home (``HOME``, ``TMPDIR``) and a git
  checkout, the usual character devices, and ``/dev/shm`` (POSIX semaphores; a private
  one: runners.mounts empties the host's shared places in the framework's own view);
- no TCP connection to the frameworks' ports (``ports``, a range the launcher keeps
  for them; Landlock ABI 4): another dashboard's framework answers whoever reaches
  it, without the guard's access check;
- binding its one TCP port only (Landlock ABI 4, Linux 6.7), and listening on it only, on
  loopback (runners.listens: a socket that listens without binding gets a free port from
  the kernel, which Landlock does not see): over plain http a browser sends a site's
  cookies to every port of its host, so a second listener would receive the viewers'
  cookies;
- no access to processes outside it: their ``/proc/<pid>/environ`` and memory
  (Landlock's ptrace rule), and no signals to them (ABI 6);
- no capabilities, now or after ``exec`` (a gateway run as root starts its runners as
  root: with ``CAP_SYS_PTRACE`` the ptrace rule does not hold);
- no change to any file's mode, owner, times or extended attributes (seccomp): Landlock
  restricts opening files, not those, and the framework runs as the files' owner (the
  gateway's user, root in the demo) — a setuid copy of a program, a secret made
  world-readable. Such calls succeed without effect, so that code copying a file's mode
  (``shutil.copy``) into its own home goes on working.

Everything else is refused by the kernel: the gateway's and the hub's files (cookie
secrets, databases, configuration), other dashboards' folders, other users' storage.
Connections out are not restricted here (dashboards fetch data); with ``network``
"private" or "isolated" the framework has a network namespace of its own (runners.netns),
where the connect rule has nothing left to keep it from and is not built.
"""

from __future__ import annotations

import ctypes
import os
import site
import socket
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.contract import NETWORKS
from runners.errors import SpecError
from runners.ports import free_port_in
from runners.seccomp import install_build_filter, install_metadata_filter

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_VERSION = 1  # landlock_create_ruleset flag: ask for the ABI version
_PATH_BENEATH, _NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_CAPABILITY_V3 = 0x20080522

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_MAKE_AND_REMOVE = sum(1 << b for b in range(4, 13))  # remove dir/file, make char … symlink
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

ETC = (
    "ssl", "pki", "ca-certificates", "resolv.conf", "hosts", "host.conf", "nsswitch.conf",
    "gai.conf", "services", "protocols", "passwd", "group", "localtime", "timezone",
    "mime.types", "fonts", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "locale.alias",
    "os-release", "alternatives", "matplotlibrc", "machine-id", "debian_version",
    "lsb-release", "redhat-release", "system-release",
)  # fmt: skip
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/proc", "/sys")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


class Unsupported(OSError):
    """This kernel cannot sandbox (no Landlock, or it is turned off)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class _NetPort(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """Landlock's ABI version here; 0 when there is none."""
    if not sys.platform.startswith("linux"):
        return 0
    version = _libc().syscall(_CREATE_RULESET, None, 0, _VERSION)
    return max(0, int(version))


@dataclass(frozen=True)
class Sandbox:
    """What a framework may touch: paths to read, paths to write, TCP ports to listen on."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    bind: tuple[int, ...] = ()
    home: str = ""  # a private, writable home (HOME, TMPDIR); made by the runner
    # The frameworks' ports (first, last): nothing in a sandbox connects to them (ABI 4).
    ports: tuple[int, int] | None = None
    ready: Ready | None = None  # that rule built ahead, in a warm runner
    # "host": the machine's network; "private": a namespace of its own with egress;
    # "isolated": one without (runners.netns).
    network: str = "host"
    building: bool = False  # an install's: no Unix socket, ptrace, fallocate (runners.seccomp)
    # A private view of the mounts (runners.mounts, in a user namespace of its own); False
    # in a pod, whose container's mounts are its view and whose runtime refuses one.
    view: bool = True

    def for_framework(
        self, port: int, python: str = sys.executable, ready: Ready | None = None
    ) -> Sandbox:
        """Plus what any framework needs to run (the system, the Python running it) and
        its one port."""
        return Sandbox(
            read=(*self.read, *system_paths(python)),
            # /dev/shm: POSIX semaphores (multiprocessing.Lock, which Gradio takes).
            write=(*self.write, *((self.home,) if self.home else ()), "/dev/shm"),  # noqa: S108
            bind=(port,),
            home=self.home,
            ports=self.ports,
            ready=ready,
            network=self.network,
            building=self.building,
        )

    def environ(self) -> dict[str, str]:
        """``HOME`` and ``TMPDIR`` inside the private home."""
        if not self.home:
            return {}
        return {"HOME": self.home, "TMPDIR": str(Path(self.home) / ".tmp")}

    def make_home(self) -> None:
        if self.home:
            (Path(self.home) / ".tmp").mkdir(parents=True, exist_ok=True, mode=0o700)


def parse_sandbox(doc: Any) -> Sandbox:
    """The spec's ``sandbox``: ``{"read": [...], "write": [...], "home": "/…"}``."""
    if not isinstance(doc, Mapping) or set(doc) - {"read", "write", "home", "ports", "network"}:
        raise SpecError(
            'spec.sandbox must be {"read": [...], "write": [...], "home": "...", '
            '"ports": [a, b], "network": "host"|"private"|"isolated"}'
        )
    paths: dict[str, tuple[str, ...]] = {}
    for key in ("read", "write"):
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(p, str) and os.path.isabs(p) for p in value
        ):
            raise SpecError(f"spec.sandbox.{key} must be a list of absolute paths")
        paths[key] = tuple(value)
    home = doc.get("home", "")
    if not isinstance(home, str) or (home and not os.path.isabs(home)):
        raise SpecError("spec.sandbox.home must be an absolute path")
    ports = doc.get("ports")
    if ports is not None and not (
        isinstance(ports, list)
        and len(ports) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in ports)
        and 1024 <= ports[0] <= ports[1] <= 65535
    ):
        raise SpecError("spec.sandbox.ports must be [first, last], ports from 1024 to 65535")
    network = doc.get("network", "host")
    if network not in NETWORKS:
        raise SpecError('spec.sandbox.network must be "host", "private" or "isolated"')
    return Sandbox(
        read=paths["read"],
        write=paths["write"],
        home=home,
        ports=(ports[0], ports[1]) if ports else None,
        network=network,
    )


def system_paths(python: str) -> list[str]:
    """Read-only: the system's programs and libraries, a few files of ``/etc``, and the
    Python installation running the framework (its prefixes and site-packages, and
    the runner's own package for its shims: never a checkout around it, which may
    hold the demo's state)."""
    found = [*SYSTEM, *(f"/etc/{name}" for name in ETC)]
    found += [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(python)]
    found += [p for p in sysconfig.get_paths().values() if p]
    found += [*site.getsitepackages(), site.getusersitepackages()]
    found.append(str(Path(__file__).resolve().parent))
    return sorted(set(found))


def _handled(version: int) -> int:
    rights = READ | WRITE_FILE | _MAKE_AND_REMOVE
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def _add_path(libc: Any, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this system: nothing to allow
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        if libc.syscall(_ADD_RULE, ruleset, _PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock: cannot allow {path}: {os.strerror(error)}")
    finally:
        os.close(fd)


def _add_port(libc: Any, ruleset: int, right: int, port: int) -> None:
    rule = _NetPort(right, port)
    if libc.syscall(_ADD_RULE, ruleset, _NET_PORT, ctypes.byref(rule), 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock: cannot allow port {port}: {os.strerror(error)}")


def _allow_connects(libc: Any, ruleset: int, ports: tuple[int, int], own: tuple[int, ...]) -> None:
    """Every port outside the frameworks' ``ports``, and the framework's ``own``."""
    first, last = ports
    for port in (*range(1, first), *range(last + 1, 65536), *own):
        _add_port(libc, ruleset, CONNECT_TCP, port)


@dataclass(frozen=True)
class Ready:
    """What a warm runner prepares for its framework while it waits: the port it will
    take (held meanwhile) and, for the host's network, the connect rule (0.14 s of system
    calls) for the frameworks' ``ports``."""

    ports: tuple[int, int]
    port: int
    ruleset: int | None  # a Landlock ruleset: connect anywhere but ports, and port
    holder: Any  # a socket bound to port (not listening), closed when the framework starts


def prepare(ports: tuple[int, int], network: str = "host") -> Ready | None:
    """In a warm runner, before it has a dashboard. None where Landlock has no network
    rules (nothing to prepare)."""
    if abi() < 4:
        return None
    port = free_port_in(ports)
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    if network != "host":  # a network of its own: no connect rule to build
        return Ready(ports, port, None, holder)
    libc = _libc()
    ruleset = _ruleset(libc, _RulesetAttr(0, CONNECT_TCP, 0), 16)
    _allow_connects(libc, ruleset, ports, (port,))
    os.set_inheritable(ruleset, False)
    return Ready(ports, port, ruleset, holder)


def _ruleset(libc: Any, attr: _RulesetAttr, size: int) -> int:
    ruleset = int(libc.syscall(_CREATE_RULESET, ctypes.byref(attr), size, 0))
    if ruleset < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock: cannot create a ruleset: {os.strerror(error)}")
    return ruleset


def drop_capabilities(libc: Any) -> None:
    """No capability now or after exec (a runner started as root: CAP_SYS_PTRACE would
    let the framework read other processes' memory and environment past Landlock, and
    CAP_DAC_OVERRIDE any file's mode)."""
    for capability in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            if error == 22:  # EINVAL: no such capability: past the last
                break
            if error != 1:  # EPERM: none to drop (not root)
                raise OSError(error, f"cannot drop capability {capability}")
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(_CapHeader(_CAPABILITY_V3, 0)), data) != 0:
        raise OSError(ctypes.get_errno(), "cannot clear capabilities")


def apply(sandbox: Sandbox) -> None:
    """Restrict this process (and all it starts) to ``sandbox``; in the framework's child
    before it runs anything of the owner's. Raises :class:`Unsupported` without Landlock."""
    version = abi()
    if version < 1:
        raise Unsupported("this kernel has no Landlock (Linux 5.13 or later, enabled)")
    libc = _libc()
    handled = _handled(version)
    # In a network of its own no other framework is there to reach: no connect rule.
    shared = sandbox.network == "host"
    ready = sandbox.ready if sandbox.ready and sandbox.ready.ports == sandbox.ports else None
    ruleset_ahead = ready.ruleset if shared and ready is not None else None
    closing = shared and version >= 4 and sandbox.ports is not None and ruleset_ahead is None
    net = (BIND_TCP | (CONNECT_TCP if closing else 0)) if version >= 4 else 0
    attr = _RulesetAttr(handled, net, 0)
    if version >= 6:
        attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX
    size = 8 if version < 4 else 16 if version < 6 else 24
    ruleset = _ruleset(libc, attr, size)
    try:
        for path in sandbox.read:
            _add_path(libc, ruleset, path, READ)
        for path in sandbox.write:
            _add_path(libc, ruleset, path, handled)
        for path in DEVICES:
            _add_path(libc, ruleset, path, READ_FILE | WRITE_FILE | (handled & IOCTL_DEV))
        if version >= 4:
            for port in sandbox.bind:
                _add_port(libc, ruleset, BIND_TCP, port)
        if closing and sandbox.ports is not None:
            # Landlock allows ports one by one: every port but the frameworks' (about
            # 0.1 s of system calls, once per start); its own stays open to it (Gradio asks
            # itself whether it is up).
            _allow_connects(libc, ruleset, sandbox.ports, sandbox.bind)
        drop_capabilities(libc)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
        # Without a private view (a pod, where the runner's user owns the owner's files
        # alone) a build's chmod stays: a configure script runs the programs it compiles.
        install_metadata_filter(libc, metadata=sandbox.view)
        if sandbox.building:
            install_build_filter(libc)
        # The connect rule built ahead: a layer of its own (layers only ever narrow).
        if ruleset_ahead is not None and libc.syscall(_RESTRICT_SELF, ruleset_ahead, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock: cannot restrict: {os.strerror(error)}")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"landlock: cannot restrict: {os.strerror(error)}")
    finally:
        os.close(ruleset)


def describe(version: int) -> str:
    """What this kernel's Landlock gives, for the gateway's start-up line."""
    if version < 1:
        return "no Landlock: dashboards cannot be sandboxed here"
    parts = ["files"]
    parts.append("listening ports" if version >= 4 else "not listening ports (Linux 6.7+)")
    parts.append("signals" if version >= 6 else "not signals (Linux 6.12+)")
    return f"Landlock ABI {version}: " + ", ".join(parts)
