"""The seccomp filters of the framework's sandbox (runners.sandbox).

- No change to any file's mode, owner, times or extended attributes. Landlock restricts
  opening files, not changing their metadata, and the framework runs as the files' owner
  (the gateway's user, root in the demo): a setuid copy of a program or a secret made
  world-readable would follow. Such calls succeed without effect, so that code copying a
  file's mode (``shutil.copy``) into its own home goes on working.
- No new namespace of any kind (see :func:`supervised_filter`).
- Every ``listen()`` is asked of the runner (a user notification: runners.listens), which
  lets only the framework's own port listen. Landlock checks ``bind()``; a socket that
  listens unbound gets a free port from the kernel past it — and over plain http a
  browser sends a site's cookies to every port of its host. ``io_uring`` (whose
  operations seccomp does not see, a listen among them) is not there (ENOSYS).
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


# Calls that change a file's metadata, by architecture (AUDIT_ARCH_*): chmod, fchmod,
# chown, fchown, lchown, utime, setxattr, lsetxattr, fsetxattr, removexattr,
# lremovexattr, fremovexattr, utimes, fchownat, futimesat, fchmodat, utimensat, fchmodat2,
# setxattrat, removexattrat (x86_64); the generic table's (aarch64).
METADATA_CALLS = {
    0xC000003E: (90, 91, 92, 93, 94, 132, 188, 189, 190, 197, 198, 199, 235, 260, 261, 268,
                 280, 452, 463, 466),
    0xC00000B7: (5, 6, 7, 14, 15, 16, 52, 53, 54, 55, 88, 452, 463, 466),
}  # fmt: skip
_SECCOMP = {0xC000003E: 317, 0xC00000B7: 277}  # the seccomp() call itself
_CALLS = {
    0xC000003E: {"listen": 50, "unshare": 272, "setns": 308, "clone": 56, "clone3": 435,
                 "socket": 41, "socketpair": 53, "pidfd_getfd": 438, "ptrace": 101,
                 "process_vm_readv": 310, "process_vm_writev": 311, "fallocate": 285},
    0xC00000B7: {"listen": 201, "unshare": 97, "setns": 268, "clone": 220, "clone3": 435,
                 "socket": 198, "socketpair": 199, "pidfd_getfd": 438, "ptrace": 117,
                 "process_vm_readv": 270, "process_vm_writev": 271, "fallocate": 47},
}  # fmt: skip
_AF_UNIX, _EACCES = 1, 13
_OTHER_PROCESSES = ("pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev")
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
_CLONE_NEW |= 0x40000000 | 0x00000080
_IO_URING = (425, 426, 427)  # setup, enter, register: the same on both
_X32 = 0x40000000  # x86_64's x32 calls: their numbers with this bit
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_RET_ALLOW, _RET_ERRNO, _RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
_RET_USER_NOTIF = 0x7FC00000
_SET_MODE_FILTER, _FILTER_FLAG_NEW_LISTENER = 1, 1 << 3
_ENOSYS, _EPERM, _EOPNOTSUPP = 38, 1, 95
_LD_ABS_W, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def metadata_filter(arch: int, calls: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """A seccomp program (code, jt, jf, k): the ``calls`` of ``arch`` succeed without
    effect; a call of any other architecture (32-bit, x32) kills the process; the rest
    is allowed."""
    program = [
        (_LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, _RET_KILL),
        (_LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
        (_JGE_K, 0, 1, _X32),
        (_RET_K, 0, 0, _RET_KILL),
    ]
    for index, call in enumerate(calls):
        left = len(calls) - index - 1
        program.append((_JEQ_K, left + 1, 0, call))  # to the ERRNO(0) after the list
    program += [(_RET_K, 0, 0, _RET_ALLOW), (_RET_K, 0, 0, _RET_ERRNO | 0)]
    return program


def supervised_filter(arch: int) -> list[tuple[int, int, int, int]]:
    """A seccomp program: ``listen`` waits for the runner's answer; io_uring is not
    there; no new namespace (``unshare``, ``setns``, ``clone`` with a namespace flag,
    ``clone3``, which glibc then does as ``clone``). A user namespace of its own would
    give the owner's code every capability there: the kernel's namespace-only code (a
    common source of privilege escalations) within reach (found by the third attacker
    review). Other architectures' calls pass here (the metadata filter kills them)."""
    calls = _CALLS[arch]
    program = [
        (_LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, _RET_ALLOW),
        (_LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
    ]
    for call, action in (
        (calls["listen"], _RET_USER_NOTIF),
        (calls["unshare"], _RET_ERRNO | _EPERM),
        (calls["setns"], _RET_ERRNO | _EPERM),
        (calls["clone3"], _RET_ERRNO | _ENOSYS),
    ):
        program += [(_JEQ_K, 0, 1, call), (_RET_K, 0, 0, action)]
    program += [
        (_JGE_K, 0, 2, _IO_URING[0]),
        (_JGE_K, 1, 0, _IO_URING[-1] + 1),
        (_RET_K, 0, 0, _RET_ERRNO | _ENOSYS),
        (_JEQ_K, 0, 3, calls["clone"]),
        (_LD_ABS_W, 0, 0, 16),  # seccomp_data.args[0], its low word: clone's flags
        (_JSET_K, 0, 1, _CLONE_NEW),
        (_RET_K, 0, 0, _RET_ERRNO | _EPERM),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return program


def build_filter(arch: int) -> list[tuple[int, int, int, int]]:
    """A seccomp program: no Unix socket may be made (``socket``/``socketpair`` of
    ``AF_UNIX`` fail with EACCES). For installs (the re-test): through one, build code
    handed a descriptor of its layer to a process of the owner's, which changed the layer
    after it was marked complete, and kept removed files in flight, out of the size watch's
    sight. Nor may it take another process's descriptors, trace it or read or write its
    memory (the last re-test: build code stopped pip). ``fallocate`` is not supported
    (EOPNOTSUPP, as on filesystems without it; glibc's ``posix_fallocate`` then writes a
    byte per block): it allocated gigabytes per file at once, thousands of files between
    two measures of the size watch; written, they take as long as the disk. Other
    architectures' calls pass here (the metadata filter kills them)."""
    calls = _CALLS[arch]
    program = [
        (_LD_ABS_W, 0, 0, 4),  # seccomp_data.arch
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, _RET_ALLOW),
        (_LD_ABS_W, 0, 0, 0),  # seccomp_data.nr
    ]
    # Nor a descriptor taken from another process (the reaper's output is the runner's
    # socket), nor another process driven or read (build code stopped pip with ptrace).
    for name in _OTHER_PROCESSES:
        program += [(_JEQ_K, 0, 1, calls[name]), (_RET_K, 0, 0, _RET_ERRNO | _EPERM)]
    program += [(_JEQ_K, 0, 1, calls["fallocate"]), (_RET_K, 0, 0, _RET_ERRNO | _EOPNOTSUPP)]
    return [
        *program,
        (_JEQ_K, 1, 0, calls["socket"]),
        (_JEQ_K, 0, 3, calls["socketpair"]),
        (_LD_ABS_W, 0, 0, 16),  # seccomp_data.args[0], its low word: the domain
        (_JEQ_K, 0, 1, _AF_UNIX),
        (_RET_K, 0, 0, _RET_ERRNO | _EACCES),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]


def install_build_filter(libc: Any) -> None:
    """:func:`build_filter` for this process and all it starts (before exec; needs
    no_new_privs)."""
    fprog, _ = _fprog(build_filter(_arch()))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: cannot install the filter: {os.strerror(error)}")


def _arch() -> int:
    arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(platform.machine())
    if arch is None:
        raise OSError(f"no seccomp filter for {platform.machine()}")
    return arch


def _fprog(program: list[tuple[int, int, int, int]]) -> tuple[_SockFprog, Any]:
    filters = (_SockFilter * len(program))(*(_SockFilter(*p) for p in program))
    return _SockFprog(len(program), filters), filters  # the array lives as long as the prog


def install_metadata_filter(libc: Any, metadata: bool = True) -> None:
    """Make this process's metadata calls succeed without effect (before exec; needs
    no_new_privs); with ``metadata`` False only other architectures' calls are refused."""
    arch = _arch()
    fprog, _ = _fprog(metadata_filter(arch, METADATA_CALLS[arch] if metadata else ()))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: cannot install the filter: {os.strerror(error)}")


def install_listen_filter(libc: Any) -> int:
    """Hand this process's ``listen()`` calls to whoever holds the returned descriptor
    (before exec; needs no_new_privs). The caller passes it on and closes its own copy:
    a process answering its own notifications would be unrestricted."""
    arch = _arch()
    fprog, _ = _fprog(supervised_filter(arch))
    fd = int(
        libc.syscall(
            _SECCOMP[arch], _SET_MODE_FILTER, _FILTER_FLAG_NEW_LISTENER, ctypes.byref(fprog)
        )
    )
    if fd < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"seccomp: cannot install the listen filter: {os.strerror(error)}")
    return fd
