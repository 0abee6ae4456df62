"""Start one simulated container: its mounts, its user, then its command (exec'd).

Run by the kubelet as ``unshare --pid --fork --mount-proc … python -m
tests.kubesim.container <config.json>`` (as root): as a container runtime makes
it, the container has a PID namespace of its own (its command is its pid 1,
with a /proc of its own) and a mount namespace where a tmpfs covers each mount
root (``/srv`` by default) so nothing appears on the host; every volume is
bind-mounted at its ``mountPath`` (read-only where the pod says so), and the
process becomes the pod's user and groups before it execs the container's
command with the container's environment, under the seccomp profile
``RuntimeDefault`` is for a container without CAP_SYS_ADMIN: no new namespace
(so no user namespace — what a runner may do in a real pod). The process keeps
the same pid throughout, so the kubelet's signals reach the command itself.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shutil
import subprocess
import sys


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def private_dev(staging: str, termination: dict[str, str]) -> None:
    """A /dev of the container's own, as a container runtime makes it: the usual devices,
    ``/dev/shm``, and the termination message file (the kubelet's, bound in), so nothing
    the container writes there lands on this machine's /dev."""
    os.makedirs(staging, exist_ok=True)
    mount("--rbind", "/dev", staging)
    mount("-t", "tmpfs", "-o", "mode=755,nosuid", "tmpfs", "/dev")
    for device in DEVICES:
        open(f"/dev/{device}", "a").close()
        mount("--bind", f"{staging}/{device}", f"/dev/{device}")
    os.makedirs("/dev/pts")
    mount("--bind", f"{staging}/pts", "/dev/pts")
    os.symlink("pts/ptmx", "/dev/ptmx")
    os.makedirs("/dev/shm")
    mount("-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"/dev/{name}")
    os.symlink("/proc/self/fd", "/dev/fd")
    if termination["target"].startswith("/dev/"):
        open(termination["target"], "a").close()
        mount("--bind", termination["source"], termination["target"])
    subprocess.run(["umount", "-l", staging], check=True)
    os.rmdir(staging)


# containerd's and Docker's default profile, for what it says of namespaces: unshare and
# setns refused, clone refused with any CLONE_NEW* flag, clone3 "not implemented" (so that
# the C library falls back to clone, whose flags a filter can see).
_CLONE_NEW = 0x7E020000  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_ARCHES = {  # audit arch: clone, unshare, setns, clone3
    "x86_64": (0xC000003E, 56, 272, 308, 435),
    "aarch64": (0xC00000B7, 220, 97, 268, 435),
}
_EPERM, _ENOSYS = 1, 38


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]  # fmt: skip


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_Filter))]


def runtime_default() -> None:
    """Install the namespace part of ``RuntimeDefault`` on this process (as root: no
    no_new_privs needed) and on all it execs."""
    arch, clone, unshare, setns, clone3 = _ARCHES[platform.machine()]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | _EPERM, 0x00050000 | _ENOSYS
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JSET|K, RET|K
    program = [  # (code, jump if true, jump if false, k): jumps count from the next one
        (ld, 0, 0, 4),  # 0: seccomp_data.arch
        (jeq, 0, 7, arch),  # 1: another ABI (x32…): allowed (9)
        (ld, 0, 0, 0),  # 2: .nr
        (jeq, 6, 0, unshare),  # 3: → 10
        (jeq, 5, 0, setns),  # 4: → 10
        (jeq, 5, 0, clone3),  # 5: → 11
        (jeq, 0, 2, clone),  # 6: else → 9
        (ld, 0, 0, 16),  # 7: .args[0]'s low half (little-endian): clone's flags
        (jset, 1, 0, _CLONE_NEW),  # 8: → 10, else 9
        (ret, 0, 0, allow),  # 9
        (ret, 0, 0, eperm),  # 10
        (ret, 0, 0, enosys),  # 11
    ]
    filters = (_Filter * len(program))(*program)
    prog = _Program(len(program), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
        raise OSError(ctypes.get_errno(), "seccomp")


def main() -> None:
    with open(sys.argv[1]) as f:
        config = json.load(f)
    for root in config["roots"]:
        os.makedirs(root, exist_ok=True)
        mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", root)
    private_dev(config["roots"][0] + "/.dev", config["termination"])
    # The image's files that live under a directory only root may enter (the test
    # machine's Python under /root): that directory is covered by an open tmpfs and the
    # files shown again inside it, so the pod's user can run them.
    staging = config["roots"][0] + "/.image"
    for cover in config["covers"]:
        keep = cover["keep"]
        for i, path in enumerate(keep):
            os.makedirs(f"{staging}/{i}", exist_ok=True)
            mount("--bind", path, f"{staging}/{i}")
        mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", cover["dir"])
        for i, path in enumerate(keep):
            os.makedirs(path, exist_ok=True)
            mount("--bind", f"{staging}/{i}", path)
    for m in config["mounts"]:
        source, target = m["source"], m["target"]
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        mount("--bind", source, target)
        if m["read_only"]:
            mount("-o", "remount,bind,ro", target)
    runtime_default()
    os.setgroups(config["groups"])
    os.setgid(config["gid"])
    os.setuid(config["uid"])
    os.chdir(config["cwd"])
    command = config["command"]
    path = shutil.which(command[0], path=config["env"].get("PATH", os.defpath))
    if path is None:
        print(f"exec: {command[0]!r}: executable file not found in $PATH", flush=True)
        sys.exit(127)
    os.execve(path, command, config["env"])


if __name__ == "__main__":
    main()
