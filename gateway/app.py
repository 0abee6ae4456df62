"""The ``podium`` command. The gateway itself arrives with the gateway issue."""

from __future__ import annotations

import sys


def main() -> int:
    print("podium: the gateway is not built yet; see README.md", file=sys.stderr)
    return 1
