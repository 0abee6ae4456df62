"""Start one simulated container: its mounts, its user, then its command (exec'd).

Run by the kubelet as ``unshare --mount --propagation private python -m
tests.kubesim.container <config.json>`` (as root): inside the new mount
namespace a tmpfs covers each mount root (``/srv`` by default) so nothing
appears on the host, every volume is bind-mounted at its ``mountPath``
(read-only where the pod says so), and the process becomes the pod's user and
groups before it execs the container's command with the container's
environment. The process keeps the same pid throughout, so the kubelet's
signals reach the command itself.
"""

from __future__ import annotations

import json
import os
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
