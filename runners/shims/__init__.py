"""Small launchers for frameworks whose apps are scripts rather than server CLIs.

Each shim runs inside the framework's own process: it runs the creator's
script, finds the app object (catching the script's own ``run()``/``launch()``
call instead of letting it pick a port), and serves that app on the host,
port and prefix the runner chose (``PODIUM_HOST``, ``PODIUM_PORT``,
``PODIUM_PREFIX``).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any


def fail(message: str) -> None:
    print(f"podium: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def run_script(entry: str) -> dict[str, Any]:
    """Run the creator's script as ``__main__`` from its own folder, like ``python app.py``."""
    path = Path(entry).resolve()
    sys.argv = [str(path)]
    sys.path.insert(0, str(path.parent))
    return runpy.run_path(str(path), run_name="__main__")


def find_app(namespace: dict[str, Any], kind: type, caught: list[Any]) -> Any:
    """The app the script launched, else the one named ``app``/``demo``, else the only one."""
    if caught:
        return caught[-1]
    for name in ("app", "demo"):
        if isinstance(namespace.get(name), kind):
            return namespace[name]
    found = [v for v in namespace.values() if isinstance(v, kind)]
    if len(found) == 1:
        return found[0]
    return None


def endpoint() -> tuple[str, int, str]:
    return os.environ["PODIUM_HOST"], int(os.environ["PODIUM_PORT"]), os.environ["PODIUM_PREFIX"]
