"""The Python environment a dashboard's app runs in, when it is not the runner's own.

The runner (its guard, its sandbox) always runs in Podium's interpreter; only the app
runs in the environment's (``spec.python``: a venv's or a conda env's ``bin/python``, or
an image's). Before the app starts, the runner asks that interpreter whether the modules
the framework needs are there, and says plainly which are not. The shims Podium starts
some frameworks through (runners/shims) are made importable there from the runner's own
source, so no environment needs Podium installed.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from runners.errors import EnvironmentMissing

PACKAGE = Path(__file__).resolve().parent  # runners/
_FIND = (
    "import importlib.util as u, sys\n"
    "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
)
CHECK_SECONDS = 60.0


async def missing(python: str, modules: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Which of ``modules`` ``python`` cannot import (its own environment, as the app's)."""
    if not modules:
        return []
    try:
        process = await asyncio.create_subprocess_exec(
            python, "-I", "-c", _FIND, *modules,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={k: v for k, v in env.items() if k != "PYTHONPATH"},
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), CHECK_SECONDS)
    except FileNotFoundError:
        raise EnvironmentMissing(f"there is no Python at {python}") from None
    except (OSError, TimeoutError) as e:
        raise EnvironmentMissing(f"{python} could not be asked what it has ({e})") from None
    if process.returncode != 0:
        said = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentMissing(f"{python} does not run: {said[0]}")
    return out.decode().split()


async def check(python: str, name: str, framework: str, modules: Sequence[str],
                env: Mapping[str, str]) -> None:  # fmt: skip
    """Fail, naming what is missing, when ``python`` cannot run ``framework``."""
    absent = await missing(python, modules, env)
    if absent:
        what = " and ".join(absent)
        verb = "is" if len(absent) == 1 else "are"
        raise EnvironmentMissing(
            f"{what} {verb} not installed in environment {name or python}, which {framework} "
            "needs; ask your admin, or add it to requirements.txt"
        )


def with_shims(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with Podium's shims importable (``runners.shims``) in another interpreter,
    and nothing else of Podium's: a folder in the app's ``HOME`` holding only a link to
    this package goes on its path (the folder Podium is installed in would put every
    package of Podium's environment before the environment's own)."""
    home = env.get("HOME") or tempfile.mkdtemp(prefix="podium-home-")
    where = Path(home) / ".podium-path"
    where.mkdir(mode=0o755, parents=True, exist_ok=True)
    link = where / "runners"
    if not link.is_symlink() or link.resolve() != PACKAGE:
        link.unlink(missing_ok=True)
        link.symlink_to(PACKAGE)
    paths = [str(where), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}
