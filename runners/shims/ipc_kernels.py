"""Voilà's kernels in a sandbox: over abstract Unix sockets, each kernel its own names.

A sandboxed framework listens on its one TCP port only, so the kernels it starts cannot
take five TCP ports each. Abstract Unix sockets have no path to be too long, and
Landlock (ABI 6) lets only processes of the same sandbox connect to them. jupyter_client
numbers a kernel's sockets ``<ip>-1`` … ``<ip>-5`` after checking that no such *file*
exists, which never sees an abstract name: each kernel gets a random ``ip`` of its own,
so two viewers' kernels never share (and nobody can guess them).
"""

from __future__ import annotations

import secrets

from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from traitlets import default


class KernelManager(ServerKernelManager):
    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        return f"@podium-{secrets.token_hex(12)}"
