"""What the gateway and the runner agree on, in one place both import (nothing else of
the runner's is the gateway's business). The launch spec itself is docs/runner.md,
parsed by runners.spec; how an owner becomes a URL segment or a folder, runners.names.
"""

from __future__ import annotations

CREDENTIAL_HEADER = "X-Podium-Credential"  # the per-launch secret on every request
HEALTH_PATH = "_podium/health"  # under the dashboard's prefix; answered without it

# A warm runner's environment (set by the local launcher): what it may prepare ahead.
PORTS_ENV = "PODIUM_FRAMEWORK_PORTS"  # "first-last": the frameworks' ports
NETWORK_ENV = "PODIUM_NETWORK"  # the sandboxes' network, one of NETWORKS

# A sandboxed framework's network (spec.sandbox.network; runners.netns).
NETWORKS = ("host", "private", "isolated")
