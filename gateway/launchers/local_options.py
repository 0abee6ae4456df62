"""The local launcher's options (``c.LocalLauncher.…``), apart from what it does."""

from __future__ import annotations

import os
import sys
from typing import Any

from traitlets import Bool, Dict, Integer, List, TraitError, Tuple, Unicode, validate

from gateway.launchers.base import Launcher, check_shared_names


class LocalOptions(Launcher):
    user_root = Unicode(
        "/home/{username}",
        help="A user's storage on this machine; dashboards with a storage source run from here.",
    ).tag(config=True)
    shared_folders = Dict(
        Unicode(),
        help="Folders every user shares (a hybrid setup: a team volume beside each user's "
        "own), by name: {'team': '/srv/shared'}. A dashboard's source may come from one.",
    ).tag(config=True)
    state_dir = Unicode(
        "podium-runners", help="Where each runner gets its folder (spec, log, git checkout)."
    ).tag(config=True)
    runner_command = List(
        Unicode(), [sys.executable, "-m", "runners"], help="How to start podium-runner."
    ).tag(config=True)
    warm_runners = Integer(
        1,
        help="Runners kept started and waiting for a dashboard, so that a wake-up costs only "
        "the framework's own start (none when runners run as their owners).",
    ).tag(config=True)
    run_as_owner = Bool(
        False, help="When the gateway runs as root, run each runner as its owner's system user."
    ).tag(config=True)
    sandbox = Bool(
        True,
        help="Run each dashboard's code in a Landlock sandbox (Linux 5.13+; listening ports "
        "6.7+): it reads the system and its owner's storage, writes only its own places, "
        "listens on its one port and cannot touch other processes. False runs it unconfined, "
        "with every right of the gateway's user (its secrets and database included): only "
        "for creators who all trust each other.",
    ).tag(config=True)
    network = Unicode(
        "private",
        help="Where sandboxed dashboards' code talks: 'private' (a network namespace of its "
        "own, the internet through pasta from the passt package, nothing of this machine's: "
        "not its loopback services, not other frameworks), 'isolated' (its own namespace, "
        "no egress) or 'host' (this machine's network: other local accounts reach "
        "frameworks' ports past the access check; warned at every start).",
    ).tag(config=True)
    framework_ports = Tuple(
        Integer(),
        Integer(),
        default_value=(40000, 40999),
        help="Ports kept for sandboxed frameworks (first, last): a dashboard's code cannot "
        "connect to any of them, so it cannot reach another dashboard's framework past "
        "the access check (Linux 6.7+). Choose a range nothing else on this host uses.",
    ).tag(config=True)
    direct_connections = Bool(
        True,
        help="Viewers' requests go from the gateway straight to the framework, on a "
        "connection the runner's guard hands over once it has checked the gateway's "
        "credential (runners.direct): one relay instead of two. False: every request "
        "passes through the guard.",
    ).tag(config=True)

    @validate("shared_folders")
    def _shared(self, proposal: Any) -> dict[str, str]:
        check_shared_names("c.LocalLauncher.shared_folders", proposal["value"])
        for name, path in proposal["value"].items():
            if not os.path.isabs(path) or {".", ".."} & set(path.split("/")):
                raise TraitError(
                    f"c.LocalLauncher.shared_folders[{name!r}]: {path!r} is not a plain "
                    "absolute path"
                )
        return dict(proposal["value"])
