"""The Python environment a dashboard's app runs in, when it is not the runner's own.

The runner (its guard, its sandbox) always runs in Podium's interpreter; only the app
runs in the environment's (``spec.python``: a venv's or a conda env's ``bin/python``, or
an image's). Before the app starts, the runner asks that interpreter whether the modules
the framework needs are there, and says plainly which are not. The shims Podium starts
some frameworks through (runners/shims) are made importable there from the runner's own
source, so no environment needs Podium installed.

The question runs confined as the app will (its sandbox, a network namespace with no way
out): a requirements layer is the owner's code — a ``.pth`` file of an installed package
runs whenever its interpreter starts — and must never run as the runner.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from runners.errors import EnvironmentMissing
from runners.framework import Framework
from runners.netns import Door
from runners.sandbox import Sandbox

PACKAGE = Path(__file__).resolve().parent  # runners/
# The probe's answer (in the owner's log, where it is asked in the app's sandbox).
LACKS, HAS = "podium: the environment lacks:", "podium: the environment has what the app needs"
_FIND = (
    "import importlib.util as u, sys\n"
    "absent = [m for m in sys.argv[1:] if u.find_spec(m) is None]\n"
    f"print(' '.join([{LACKS!r}, *absent]) if absent else {HAS!r})"
)
CHECK_SECONDS = 60.0


async def missing(python: str, modules: Sequence[str], env: Mapping[str, str],
                  confined: Confinement | None = None) -> list[str]:  # fmt: skip
    """Which of ``modules`` ``python`` cannot import (its own environment, as the app's),
    asked in the app's ``confined`` sandbox when it has one."""
    if not modules:
        return []
    if confined is not None:
        return await _missing_confined(python, modules, env, confined)
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
    answer = _answer(out.decode(errors="replace").splitlines())
    if answer is None:
        raise EnvironmentMissing(f"{python} could not be asked what it has (no answer)")
    return answer


@dataclass(frozen=True)
class Confinement:
    sandbox: Sandbox
    cwd: Path

    @classmethod
    def of_app(cls, sandbox: Sandbox, cwd: Path) -> Confinement:
        """The app's confinement for a question asked before it starts: what it may read
        and write, no port to listen on, and nothing a warm runner made ahead for the app's
        own start (its port rule is the app's, once)."""
        return cls(replace(sandbox, bind=(), ready=None), cwd)


async def _missing_confined(
    python: str, modules: Sequence[str], env: Mapping[str, str], confined: Confinement
) -> list[str]:
    plain = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    door = await Door.open(0, False) if confined.sandbox.network != "host" else None
    probe = Framework([python, "-I", "-c", _FIND, *modules], plain, confined.cwd, 40,
                      confined.sandbox, door)  # fmt: skip
    try:
        await probe.start()
        code = await asyncio.wait_for(probe.wait(), CHECK_SECONDS)
    except FileNotFoundError:
        raise EnvironmentMissing(f"there is no Python at {python}") from None
    except (OSError, TimeoutError) as e:
        raise EnvironmentMissing(f"{python} could not be asked what it has ({e})") from None
    finally:
        # Its own group only: Framework.stop would end every process of the runner's (the
        # app's network, made ahead, among them).
        if probe.process is not None and probe.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(probe.process.pid, signal.SIGKILL)
            await probe.process.wait()
        if door is not None:
            await door.close()
    said = probe.tail()
    answer = _answer(said)
    if code != 0 or answer is None:
        last = next((line for line in reversed(said) if line.strip()), "no output")
        raise EnvironmentMissing(f"{python} does not run: {last.strip()}")
    return answer


def _answer(lines: Sequence[str]) -> list[str] | None:
    """The modules the probe's answer (its last) says are missing; None without one."""
    for line in reversed(lines):
        if line.strip() == HAS:
            return []
        if line.startswith(LACKS):
            return line.removeprefix(LACKS).split()
    return None


async def check(python: str, name: str, framework: str, modules: Sequence[str],
                env: Mapping[str, str], confined: Confinement | None = None) -> None:  # fmt: skip
    """Fail, naming what is missing, when ``python`` cannot run ``framework``."""
    absent = await missing(python, modules, env, confined)
    if absent:
        what = " and ".join(absent)
        verb = "is" if len(absent) == 1 else "are"
        raise EnvironmentMissing(
            f"{what} {verb} not installed in environment {name or python}, which {framework} "
            "needs; ask your admin, or add it to requirements.txt"
        )


def shim_folder() -> str:
    """A folder holding only a link to this package, for another interpreter's path (the
    folder Podium is installed in would put every package of Podium's environment before
    the environment's own). A new one of the runner's own, gone when it exits: never in
    the app's writable home, where the app could plant links for the runner to follow."""
    where = tempfile.mkdtemp(prefix="podium-shims-")
    os.chmod(where, 0o755)  # noqa: S103 - the app reads it; nobody else writes it
    os.symlink(PACKAGE, os.path.join(where, "runners"))
    atexit.register(shutil.rmtree, where, True)
    return where


def with_shims(env: Mapping[str, str], where: str) -> dict[str, str]:
    """``env`` with Podium's shims (``runners.shims``) importable from ``where``
    (:func:`shim_folder`) in another interpreter, and nothing else of Podium's."""
    paths = [where, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}
