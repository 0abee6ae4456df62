"""The Kubernetes launcher against a cluster: ``$KUBECONFIG``'s, or the simulated one.

Real runner pods (processes run by the simulator's kubelet) for each storage
mode and for git; failures turned into messages; adoption and orphan removal;
the reflector surviving watch drops, expiry and API errors.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from traitlets import TraitError

from gateway.domain.dashboards import Dashboard, Source
from gateway.domain.runtime import Runtime
from gateway.launchers.base import LauncherError, Observed, runner_credential
from gateway.launchers.kube.launcher import PodLauncher
from gateway.launchers.kube.manifests import make_pod, object_name
from runners.contract import CREDENTIAL_HEADER
from tests.kubesim import Cluster, cluster
from tests.support.harness import APPS

pytestmark = [pytest.mark.functional]
SECRET = b"s" * 32
PREFIX = "/dashboards/"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def kube(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with cluster(tmp_path_factory.mktemp("kube")) as c:
        if c.kubelet is not None:
            c.kubelet.bind_claim(c.namespace, "claim-alice")
            c.kubelet.bind_claim(c.namespace, "home-nfs")
            for where in (
                c.kubelet.claim_dir(c.namespace, "claim-alice") / "apps" / "sales",
                c.kubelet.claim_dir(c.namespace, "home-nfs") / "alice" / "apps" / "sales",
            ):
                shutil.copytree(APPS / "streamlit", where)
        yield c


def sim_only(kube: Cluster) -> None:
    if not kube.simulated:
        pytest.skip("needs the simulated cluster (injects faults / reads its internals)")


def launcher(kube: Cluster, **options: Any) -> PodLauncher:
    settings: dict[str, Any] = {
        "kubeconfig": str(kube.kubeconfig),
        "namespace": kube.namespace,
        "image": "podium/runner:test",
        "ready_timeout": 120,
        "stop_timeout": 30,
    }
    settings.update(options)
    return PodLauncher(PREFIX, ["https", "git"], [], ["127.0.0.1"], **settings)


def streamlit(name: str = "sales", **change: Any) -> Dashboard:
    fields: dict[str, Any] = {
        "owner": "alice",
        "name": name,
        "framework": "streamlit",
        "entry": "app.py",
        "source": Source("storage", "apps/sales"),
    }
    fields.update(change)
    return Dashboard(**fields)


async def wait(
    k: PodLauncher, dashboard: Dashboard, runtime: Runtime, until: Callable[[Observed], bool]
) -> Observed:
    for _ in range(600):
        observed = await k.inspect(dashboard, runtime)
        if until(observed):
            return observed
        await asyncio.sleep(0.2)
    raise AssertionError(f"never reached: last {observed}")


async def launch_and_get(k: PodLauncher, dashboard: Dashboard) -> tuple[Runtime, str]:
    launch_id = secrets.token_hex(8)
    credential = runner_credential(SECRET, dashboard, launch_id)
    runtime = await k.start(dashboard, launch_id, credential)
    observed = await wait(k, dashboard, runtime, lambda o: o.ready or not o.running)
    assert observed.ready, observed
    assert observed.address is not None
    host, port = observed.address
    url = f"http://{host}:{port}{dashboard.url(PREFIX)}"
    async with (
        aiohttp.ClientSession() as s,
        s.get(url + "_stcore/health", headers={CREDENTIAL_HEADER: credential}) as r,
    ):
        assert r.status == 200 and await r.text() == "ok"
    async with aiohttp.ClientSession() as s, s.get(url + "_stcore/health") as r:
        assert r.status == 403  # the guard, in a pod as anywhere
    return runtime, url


@pytest.mark.parametrize(
    ("storage", "options"),
    [
        ("per-user", {}),
        ("static", {}),
        # The simulated clone class is WaitForFirstConsumer, as GKE's, AKS's and EKS's
        # defaults: provisioned only once the pod exists. Class and size: the source's.
        ("clone", {}),
    ],
)
async def test_streamlit_from_each_storage_mode(
    kube: Cluster, storage: str, options: dict[str, Any]
) -> None:
    if storage == "clone" and not kube.simulated:
        if not os.environ.get("PODIUM_TEST_CLONE_CLASS"):
            pytest.skip("set $PODIUM_TEST_CLONE_CLASS to a storage class that can clone")
        options = {"clone_storage_class": os.environ["PODIUM_TEST_CLONE_CLASS"]}
    k = launcher(kube, storage=storage, **options)
    dashboard = streamlit(f"sales-{storage}")
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        logs = await k.logs(dashboard, runtime, 50)
        assert any("listening on" in line for line in logs), logs
        await k.stop(dashboard, runtime)
        assert not (await k.inspect(dashboard, runtime)).running
        if storage == "clone" and kube.api is not None:
            clone = object_name("clone", "alice", dashboard.name)
            assert kube.api.get("persistentvolumeclaims", kube.namespace, clone) is not None
            await k.discard(dashboard)  # deleted with the dashboard
            assert kube.api.get("persistentvolumeclaims", kube.namespace, clone) is None
    finally:
        await k.close()


async def test_a_source_on_a_shared_volume(kube: Cluster) -> None:
    """Hybrid storage (Z2JH's extraVolumes): the source is on a claim every user mounts,
    read-only whatever the mode, at the admin's sub-path."""
    k = launcher(
        kube, storage="clone", shared_volumes={"team": {"claim": "home-nfs", "sub_path": ""}}
    )
    dashboard = streamlit("from-team", source=Source("storage", "alice/apps/sales", volume="team"))
    try:
        pod = make_pod(k.plan(dashboard, "0" * 16))
        (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "source"]
        assert volume["persistentVolumeClaim"] == {"claimName": "home-nfs", "readOnly": True}
        # A sub-path per user, named as kubespawner names it (jane.doe@example.org's too).
        per_user = launcher(kube, shared_volumes={"team": {"claim": "c", "sub_path": "{username}"}})
        jane = streamlit("j", owner="jane.doe@example.org", source=dashboard.source)
        assert per_user.plan(jane, "0" * 16).storage.sub_path == "jane-doe-example-org---7f73355b"
        runtime, _ = await launch_and_get(k, dashboard)  # no clone made, none waited for
        if kube.api is not None:
            clone = object_name("clone", "alice", dashboard.name)
            assert kube.api.get("persistentvolumeclaims", kube.namespace, clone) is None
        await k.stop(dashboard, runtime)
        gone = streamlit("from-gone", source=Source("storage", "x", volume="gone"))
        with pytest.raises(LauncherError, match="no longer shares a volume named 'gone'"):
            await k.start(gone, "1" * 16, "c" * 32)
    finally:
        await k.close()


@pytest.mark.parametrize(
    ("volumes", "words"),
    [
        ({"Team": {"claim": "c"}}, "no name for a shared volume"),
        ({"team": {"sub_path": "x"}}, "needs 'claim'"),
        ({"team": {"claim": "c", "readOnly": False}}, "unknown keys readOnly"),
        ({"team": {"claim": "c", "sub_path": "../x"}}, "relative path without '..'"),
    ],
)
def test_shared_volumes_are_checked_at_start(volumes: dict[str, Any], words: str) -> None:
    with pytest.raises(TraitError, match=words):
        PodLauncher(shared_volumes=volumes)


async def test_a_user_from_before_kubespawner_7_keeps_the_old_claim_name(kube: Cluster) -> None:
    """A hub upgraded to kubespawner 7: users from before keep their claim's "escape" name
    (in their server's state), new ones get the safe name; Podium finds either."""
    sim_only(kube)
    assert kube.kubelet is not None
    old = "claim-alice-2esmith"  # the safe name would be claim-alice-smith---…
    kube.kubelet.bind_claim(kube.namespace, old)
    shutil.copytree(APPS / "streamlit", kube.kubelet.claim_dir(kube.namespace, old) / "apps/sales")
    k = launcher(kube)
    dashboard = streamlit("upgraded", owner="alice.smith")
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        assert k.plan(dashboard, "x").storage.claim != old  # the template alone: the safe name
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


async def test_source_is_mounted_read_only(kube: Cluster) -> None:
    sim_only(kube)
    k = launcher(kube)
    dashboard = streamlit(
        "writer",
        framework="custom",
        entry="",
        command=("sh", "-c", "touch x 2>/dev/null && echo WROTE || echo READONLY; sleep 60"),
    )
    try:
        runtime = await k.start(dashboard, "0" * 16, "c" * 32)
        for _ in range(100):
            logs = "\n".join(await k.logs(dashboard, runtime, 50))
            if "READONLY" in logs or "WROTE" in logs:
                break
            await asyncio.sleep(0.2)
        assert "READONLY" in logs
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


async def test_placed_by_zero_to_jupyterhubs_user_scheduler(kube: Cluster) -> None:
    sim_only(kube)  # which schedulers run: the simulated cluster's are known
    k = launcher(kube, scheduler_name="jhub-user-scheduler")
    dashboard = streamlit("packed")
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


async def test_git_source_in_an_empty_dir(kube: Cluster, served_repo: str) -> None:
    sim_only(kube)  # the repository is served on this machine's loopback
    k = launcher(kube)
    dashboard = streamlit("from-git", source=Source("git", url=served_repo, ref="main"))
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


@pytest.mark.parametrize(
    ("options", "change", "expected"),
    [
        ({"image": "nowhere/missing:1"}, {}, "the runner image cannot be pulled (ErrImagePull)"),
        (
            {"profiles": [{"name": "gpu", "node_selector": {"gpu": "yes"}}]},
            {},
            "waiting for a node with room for it: 0/1 nodes are available",
        ),
        (
            {"profiles": [{"name": "tiny", "memory_limit": "64Mi", "memory_request": "64Mi"}]},
            {},
            "ran out of memory (OOMKilled)",
        ),
        ({"storage": "clone", "clone_storage_class": "standard"}, {}, "cannot be cloned"),
        (
            {},
            {"entry": "missing.py"},
            "the runner stopped (exit code 4): the entry file 'missing.py' does not exist",
        ),
        # The simulated node is a Z2JH user node: tainted; without the tolerations, no room.
        (
            {"node_purpose": "ignore"},
            {},
            "waiting for a node with room for it: 0/1 nodes are available: 1 node(s) had "
            "untolerated taint {hub.jupyter.org/dedicated: user}",
        ),
        # A scheduler nobody runs (the user-scheduler of a Z2JH release with it turned off).
        ({"scheduler_name": "nowhere-scheduler"}, {}, "waiting for the scheduler nowhere-"),
        # Named as the hub names them: jane.doe@example.org has no claim in this cluster.
        (
            {},
            {"owner": "jane.doe@example.org"},
            "the storage claim claim-jane-doe-example-org---7f73355b does not exist",
        ),
    ],
)
async def test_failures_become_messages(
    kube: Cluster, options: dict[str, Any], change: dict[str, Any], expected: str
) -> None:
    sim_only(kube)
    k = launcher(kube, **options)
    dashboard = streamlit("broken", **change)
    try:
        try:
            runtime = await k.start(dashboard, secrets.token_hex(8), "c" * 32)
        except LauncherError as e:
            assert expected in str(e)
            return
        observed = await wait(
            k, dashboard, runtime, lambda o: expected.split(":")[0] in o.message or o.ready
        )
        assert expected in observed.message, observed
        await k.stop(dashboard, runtime)
    finally:
        await k.discard(dashboard)
        await k.close()


async def test_failed_launches_leave_no_launch_spec_behind(kube: Cluster) -> None:
    """Each launch's spec is a Secret owned by its pod: gone with the pod (Kubernetes'
    garbage collector), never one per failed start."""
    sim_only(kube)
    assert kube.api is not None
    k = launcher(kube, image="nowhere/missing:1")
    dashboard = streamlit("leaky")

    def specs() -> list[dict[str, Any]]:
        assert kube.api is not None
        return [o for (p, _, n), o in kube.api.objects.items()
                if p == "secrets" and n.startswith("podium-spec-")]  # fmt: skip

    try:
        for _ in range(3):
            runtime = await k.start(dashboard, secrets.token_hex(8), "c" * 32)
            await wait(k, dashboard, runtime, lambda o: not o.running)
        (kept,) = specs()  # the last launch's, beside its pod
        assert kept["immutable"] is True
        (owner,) = kept["metadata"]["ownerReferences"]
        assert owner["kind"] == "Pod" and owner["uid"]
        await k.stop(dashboard, runtime)
        for _ in range(100):
            if not specs():
                break
            await asyncio.sleep(0.1)
        assert specs() == []
    finally:
        await k.discard(dashboard)
        await k.close()


async def test_a_failed_start_is_released_and_its_log_kept(kube: Cluster) -> None:
    """Once a failure is reported its pod goes (its node's room, its Secret), and the
    owner still reads what it printed."""
    sim_only(kube)
    assert kube.api is not None
    k = launcher(kube)
    dashboard = streamlit("released", entry="missing.py")

    def left() -> list[str]:
        assert kube.api is not None
        return [n for (p, _, n) in kube.api.objects
                if p in ("pods", "secrets") and "released" in n]  # fmt: skip

    try:
        runtime = await k.start(dashboard, secrets.token_hex(8), "c" * 32)
        await wait(k, dashboard, runtime, lambda o: not o.running)
        printed = await k.logs(dashboard, runtime, 50)
        assert any("missing.py" in line for line in printed), printed
        assert left()
        released = await k.release(dashboard, runtime)
        for _ in range(100):
            if not left():
                break
            await asyncio.sleep(0.1)
        assert left() == []
        assert await k.logs(dashboard, released, 50) == printed
        assert await k.release(dashboard, released) == released  # once is enough
        await k.stop(dashboard, released)  # a stop afterwards finds nothing, and is fine
    finally:
        await k.discard(dashboard)
        await k.close()


async def test_a_restarted_gateway_adopts_the_pod_and_removes_orphans(kube: Cluster) -> None:
    first = launcher(kube)
    kept, orphan = streamlit("kept"), streamlit("orphan")
    try:
        runtimes = {}
        for dashboard in (kept, orphan):
            runtimes[dashboard.name], _ = await launch_and_get(first, dashboard)
    finally:
        await first.close()  # the gateway goes away; its pods stay
    second = launcher(kube)
    try:
        assert (await second.inspect(kept, runtimes["kept"])).ready
        await second.reconcile({kept.key})  # "orphan" was deleted while no gateway ran
        await wait(
            second, orphan, runtimes["orphan"], lambda o: o.message == "the runner pod is gone"
        )
        assert (await second.inspect(kept, runtimes["kept"])).ready  # killed none of the others
        await second.stop(kept, runtimes["kept"])
    finally:
        await second.close()


async def test_two_gateways_starting_one_dashboard_make_one_pod(kube: Cluster) -> None:
    one, two = launcher(kube), launcher(kube)
    dashboard = streamlit("shared")
    try:
        first, second = await asyncio.gather(
            one.start(dashboard, "1" * 16, "c" * 32), two.start(dashboard, "2" * 16, "c" * 32)
        )
        # Whichever lost the race adopted the winner's launch: one pod, one credential.
        assert first.launch_id == second.launch_id
        pods = (await one.reflector()).pods
        assert [n for n in pods if "shared" in n] == [object_name("", "alice", "shared")]
        await one.stop(dashboard, first)
    finally:
        await one.close()
        await two.close()


async def test_the_reflector_recovers_from_drops_expiry_and_errors(kube: Cluster) -> None:
    sim_only(kube)
    assert kube.api is not None
    k = launcher(kube, api_timeout=2)
    dashboard = streamlit("watched")
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        reflector = await k.reflector()
        restarts = reflector.restarts
        kube.api.fail("GET", "/pods$", 500, count=2)  # the next two requests fail
        kube.api.drop_watches()  # the watch ends: it resumes, with backoff after the 500s
        kube.api.create("secrets", kube.namespace, {"metadata": {"name": "unrelated"}})
        kube.api.compact()  # and its version is gone meanwhile: 410, list again
        await k.stop(dashboard, runtime)  # the DELETED event must still arrive
        assert not (await k.inspect(dashboard, runtime)).running
        assert reflector.restarts > restarts
        kube.api.fail("POST", "/pods$", 0, count=1)  # a create that never answers
        with pytest.raises(LauncherError, match="did not answer in time"):
            await k.start(dashboard, "3" * 16, "c" * 32)
    finally:
        await k.close()


async def test_no_polling_per_dashboard(kube: Cluster) -> None:
    """Status lookups are served from the watch: a thousand inspections, no API call."""
    sim_only(kube)
    assert kube.api is not None
    k = launcher(kube)
    dashboard = streamlit("quiet")
    try:
        runtime, _ = await launch_and_get(k, dashboard)
        before = sum(kube.api.calls.values())
        for _ in range(1000):
            assert (await k.inspect(dashboard, runtime)).ready
        assert sum(kube.api.calls.values()) == before
        await k.stop(dashboard, runtime)
    finally:
        await k.close()


async def test_the_simulated_api_server_enforces_the_role(kube: Cluster) -> None:
    """Every test here runs as the service account of deploy/'s Role (its RBAC enforced):
    what the Role does not grant — reading Secrets above all — is refused as a real API
    server refuses it."""
    sim_only(kube)
    assert kube.api is not None
    headers = {"Authorization": f"Bearer {kube.api.token}"}
    base = f"{kube.api.url}/api/v1/namespaces/{kube.namespace}"
    async with aiohttp.ClientSession(headers=headers) as session:
        for path in ("/secrets", "/secrets/hub"):
            async with session.get(base + path) as r:
                assert r.status == 403, path
                assert "cannot" in (await r.json())["message"]
        async with session.get(base + "/pods") as r:
            assert r.status == 200
