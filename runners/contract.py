"""What the gateway and the runner agree on, in one place both import (nothing else of
the runner's is the gateway's business). The launch spec itself is docs/runner.md,
parsed by runners.spec; how an owner becomes a URL segment or a folder, runners.names.
"""

from __future__ import annotations

from collections.abc import Mapping

CREDENTIAL_HEADER = "X-Podium-Credential"  # the per-launch secret on every request
HEALTH_PATH = "_podium/health"  # under the dashboard's prefix; answered without it

# A warm runner's environment (set by the local launcher): what it may prepare ahead.
PORTS_ENV = "PODIUM_FRAMEWORK_PORTS"  # "first-last": the frameworks' ports
NETWORK_ENV = "PODIUM_NETWORK"  # the sandboxes' network, one of NETWORKS

# A sandboxed framework's network (spec.sandbox.network; runners.netns).
NETWORKS = ("host", "private", "isolated")

# A local runner's direct connections (runners.direct): on one machine the guard hands the gateway
# a connection to the framework; the gateway then sends what the guard would have sent.
DIRECT_PREFIX = "podium-direct-"  # + the launch's id: an abstract Unix socket's name
DIRECT_MAX_MESSAGE = 512  # the gateway's one message: what it wants, then the credential
DIRECT_FRAMEWORK, DIRECT_GUARD = b"f", b"g"  # a connection to the framework, or to the guard


def framework_target(
    target: bytes, path: bytes, prefix: bytes, strip_prefix: bool, rewrites: Mapping[str, str]
) -> bytes:
    """A request target as the framework must see it: a path its recipe serves elsewhere
    moved there (``rewrites``, full paths), or the prefix taken off for a framework that
    serves from ``/`` (``strip_prefix``); else unchanged."""
    rewritten = rewrites.get(path.decode("latin-1")) if rewrites else None  # most have none
    if rewritten is not None:
        return rewritten.encode() + target[len(path) :]
    if strip_prefix:
        return b"/" + target[len(prefix) :]
    return target
