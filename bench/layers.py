"""Wake-up with a requirements.txt: a Streamlit dashboard whose cached layer is reused,
against the same dashboard without one, in the same run; the first install is reported.

The layer (podium_extra, a wheel built here, from ``c.Podium.pip_args``'s local folder) is
made by the first start; every later wake-up finds it by the file's hash, so the only cost
left is the runner's look-up: asking the environment what it has, a hash, a marker read.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

from bench.measure import table
from bench.paths import Setup, api
from bench.wakeup import ROUNDS, through_podium
from tests.support.hubstack import ROOT
from tests.support.wheels import wheel

REQUIREMENTS = "podium_extra==1.0\n"


def wheels(where: str) -> str:
    """The local package index the bench's gateway installs from (``pip_args``)."""
    wheel(Path(where), "podium_extra", "1.0")
    return where


async def report(s: Setup, seconds: float) -> None:
    for name in ("plain", "layered"):
        folder = s.stack.dir / "home" / "alice" / f"wake-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "tests/apps/streamlit/app.py", folder / "app.py")
        if name == "layered":
            (folder / "requirements.txt").write_text(REQUIREMENTS)
        body = {"name": f"wake-{name}", "framework": "streamlit", "entry": "app.py",
                "source": {"type": "storage", "path": f"wake-{name}"}}  # fmt: skip
        await api(s.stack, s.token, "POST", "/dashboards", body)
    first = await through_podium(s, "wake-layered")  # pip runs: the layer is made
    plain, layered = [], []
    for _ in range(ROUNDS):  # alternated, so that the machine's moods fall on both
        plain.append(await through_podium(s, "wake-plain"))
        layered.append(await through_podium(s, "wake-layered"))
    p, q = statistics.median(plain), statistics.median(layered)
    table(
        f"6. wake-up with requirements.txt, Streamlit, median of {ROUNDS} (ms)",
        ["no requirements.txt", "cached layer", "cached / plain", "first start (pip)"],
        [[f"{p * 1000:.0f}", f"{q * 1000:.0f}", f"{q / p:.2f}x", f"{first * 1000:.0f}"]],
    )
