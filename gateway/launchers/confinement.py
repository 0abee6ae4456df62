"""What confines a local dashboard (the local launcher's part): its sandbox's rules in
the launch spec, and the checks at start that this machine can enforce them.

The rules themselves are the runner's (runners.sandbox, runners.listens, runners.netns).
"""

from __future__ import annotations

import logging
import os

from runners.contract import NETWORKS
from runners.netns import available, egress_helper
from runners.sandbox import abi, describe

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


def sandbox_spec(
    *, readable: list[str], writable: list[str], home: str, ports: tuple[int, int], network: str
) -> dict[str, object]:
    """The launch spec's ``sandbox``: the owner's storage to read (their code may read
    their data), a git checkout and a private home to write, the frameworks' ports, the
    network. Nothing else of this machine's but the system."""
    return {
        "read": readable,
        "write": writable,
        "home": home,
        "ports": list(ports),
        "network": network,
    }


def check(sandbox: bool, network: str, log: Log) -> str:
    """At the gateway's start: why dashboards cannot be confined as configured ("" when
    they can); what they get, in the log."""
    if network not in NETWORKS:
        return f"c.LocalLauncher.network must be one of {', '.join(NETWORKS)}, not {network!r}"
    if not sandbox:
        log.warning(
            "c.LocalLauncher.sandbox is off: every dashboard's code runs with all the rights "
            "of the gateway's user (its secrets, its database, other dashboards' files)"
        )
        return ""
    version = abi()
    if version < 1:
        return (
            "c.LocalLauncher.sandbox: this kernel has no Landlock (Linux 5.13 or later, "
            "with landlock among its LSMs), so dashboards cannot be sandboxed here. Set "
            "c.LocalLauncher.sandbox = False only if every creator may read the "
            "gateway's secrets, or use the Kubernetes launcher"
        )
    why = available()  # a sandbox's private places (and network) need user namespaces
    if why:
        return (
            f"c.LocalLauncher.sandbox: {why}. Allow unprivileged user namespaces "
            "(kernel.unprivileged_userns_clone, or AppArmor's "
            "kernel.apparmor_restrict_unprivileged_userns = 0), or set "
            "c.LocalLauncher.sandbox = False (every creator gets the gateway's rights)"
        )
    if network != "host":
        if network == "private" and not os.path.exists("/dev/net/tun"):
            return (
                "c.LocalLauncher.network = 'private' needs /dev/net/tun (pasta makes the "
                "dashboards' way out with it; in a container: --device /dev/net/tun), or set "
                "c.LocalLauncher.network = 'isolated' (no egress) or 'host'"
            )
        if network == "private" and egress_helper() is None:
            return (
                "c.LocalLauncher.network = 'private' needs pasta, from the passt package "
                "(apt install passt, dnf install passt), to give dashboards the internet; or "
                "set c.LocalLauncher.network = 'isolated' (no egress) or 'host'"
            )
    log.info("dashboards run sandboxed: %s; network: %s", describe(version), network)
    if network == "host":
        log.warning(
            "c.LocalLauncher.network = 'host': dashboards share this machine's network. "
            "Other local accounts reach their frameworks' ports without the access check, "
            "and over plain http a dashboard's page can send a viewer on this machine to "
            "its framework's port with the viewer's cookies"
        )
    return ""
