"""A runner pod's start with requirements.txt on a warm layers claim, against the same
Streamlit app without one, in the same run (the simulated cluster, tests/kubesim; the real
runner in its pods). The first pod's install is reported, not judged.

The first pod installs the layer into its owner's folder of the layers claim
(``c.KubeLauncher.layers_claim``); every later pod — a wake-up, the owner's other
dashboard with the same file — finds it there, so what is left is the runner's look-up.

    python -m bench.kube_layers [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import table
from gateway.domain.dashboards import Dashboard, Source
from gateway.launchers.base import runner_credential
from gateway.launchers.environments import RequirementsPolicy
from gateway.launchers.kube.launcher import PodLauncher
from tests.kubesim import simulated_cluster
from tests.support.hubstack import ROOT
from tests.support.wheels import wheel

PREFIX = "/dashboards/"


def dashboard(name: str) -> Dashboard:
    return Dashboard(
        owner="alice", name=name, framework="streamlit", entry="app.py", source=Source(path=name)
    )


async def pod_start(k: PodLauncher, d: Dashboard) -> float:
    """Seconds from asking for the pod to its app being ready; the pod is stopped after."""
    launch_id = secrets.token_hex(8)
    began = time.perf_counter()
    runtime = await k.start(d, launch_id, runner_credential(b"b" * 32, d, launch_id))
    try:
        while not (observed := await k.inspect(d, runtime)).ready:
            if not observed.running:
                raise RuntimeError(f"{d.name} did not start: {observed.message}")
            await asyncio.sleep(0.05)
        return time.perf_counter() - began
    finally:
        await k.stop(d, runtime)


async def main(rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="podium-bench-layers-", dir="/var/tmp"))
    root.chmod(0o755)  # the wheels: where the pods' user can read them
    (root / "kube").mkdir()
    try:
        async with simulated_cluster(root / "kube") as c:
            assert c.kubelet is not None
            c.kubelet.bind_claim(c.namespace, "claim-alice")
            c.kubelet.bind_claim(c.namespace, "podium-layers")
            wheel(root / "wheels", "podium_extra", "1.0")
            home = c.kubelet.claim_dir(c.namespace, "claim-alice")
            for name in ("plain", "layered"):
                (home / name).mkdir(parents=True)
                shutil.copy(ROOT / "tests/apps/streamlit/app.py", home / name / "app.py")
            (home / "layered" / "requirements.txt").write_text("podium_extra==1.0\n")
            k = PodLauncher(PREFIX, ["https"], [], [], kubeconfig=str(c.kubeconfig),
                            namespace=c.namespace, image="podium/runner:test",
                            ready_timeout=300)  # fmt: skip
            k.layers_claim = "podium-layers"
            pip = ("--no-index", "--find-links", str(root / "wheels"))
            k.requirements = RequirementsPolicy(pip, timeout=300)
            plain, layered = (dashboard(name) for name in ("plain", "layered"))
            try:
                first = await pod_start(k, layered)  # pip runs: the layer is made
                without, warm = [], []
                for _ in range(rounds):  # alternated: the machine's moods fall on both
                    without.append(await pod_start(k, plain))
                    warm.append(await pod_start(k, layered))
            finally:
                await k.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    p, q = statistics.median(without), statistics.median(warm)
    table(
        f"runner pod start on Kubernetes (simulated), Streamlit, median of {rounds} (ms)",
        ["no requirements.txt", "warm layers claim", "warm / plain", "first pod (pip)"],
        [[f"{p * 1000:.0f}", f"{q * 1000:.0f}", f"{q / p:.2f}x", f"{first * 1000:.0f}"]],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
