"""The simulated API server refuses what a real one refuses (its validation beyond the
schema), so that the launcher's pods are tested against the real rules."""

from __future__ import annotations

import pytest

from gateway.launchers.kube.manifests import Storage, make_pod
from gateway.launchers.kube.placement import Profile
from tests.kubesim.validation import claim_problems, pod_problems
from tests.support.kubestack import plan

pytestmark = pytest.mark.unit


def test_podiums_pods_pass() -> None:
    assert pod_problems(make_pod(plan(Storage("static", claim="home", sub_path="alice")))) == []
    # Two init containers (the runner copied into an environment's image, a git clone).
    assert pod_problems(make_pod(plan(Storage("git"), app_image="jupyter/scipy:1"))) == []


def test_init_and_app_containers_share_one_namespace_of_names() -> None:
    pod = make_pod(plan(Storage("git"), app_image="jupyter/scipy:1"))
    pod["spec"]["initContainers"][0]["name"] = pod["spec"]["containers"][0]["name"]
    assert pod_problems(pod) == ['spec.containers[0].name: Duplicate value: "runner"']


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda p: p["spec"]["volumes"].append(dict(p["spec"]["volumes"][0])),
         "Duplicate value"),
        (lambda p: p["spec"]["containers"][0]["volumeMounts"][0].update(subPath="../bob"),
         "must be a relative path not containing '..'"),
        (lambda p: p["spec"]["containers"][0]["volumeMounts"][0].update(name="nowhere"),
         'Not found: "nowhere"'),
    ],
)  # fmt: skip
def test_pods_a_real_api_server_refuses(change, said: str) -> None:  # type: ignore[no-untyped-def]
    pod = make_pod(plan(Storage("static", claim="home", sub_path="alice")))
    change(pod)
    assert any(said in p for p in pod_problems(pod)), pod_problems(pod)


def test_resources_a_real_api_server_refuses() -> None:
    over = make_pod(plan(Storage("git"), profile=Profile(cpu_request="2", cpu_limit="1")))
    assert pod_problems(over) == [  # the git clone's init container has the profile's too
        f'spec.{where}[0].resources.requests: Invalid value: "2": must be less than or '
        "equal to cpu limit of 1"
        for where in ("initContainers", "containers")
    ]
    lots = make_pod(plan(Storage("git"), profile=Profile(memory_limit="lots")))
    assert "quantities must match" in pod_problems(lots)[0]
    claim = {"spec": {"resources": {"requests": {"storage": "big"}}}}
    assert "quantities must match" in claim_problems(claim)[0]


@pytest.mark.parametrize(
    ("profile", "said"),
    [
        (
            {"name": "big", "memory_limit": "lots"},
            "memory_limit = 'lots' is not a Kubernetes quantity",
        ),
        (
            {"name": "odd", "cpu_request": "2", "cpu_limit": "1"},
            "cpu_request is more than cpu_limit",
        ),
        (
            {"name": "gpu", "extra_resource_limits": {"nvidia.com/gpu": "one"}},
            "is not a Kubernetes quantity",
        ),
        ({"name": "typo", "colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_a_profile_the_api_server_would_refuse_stops_the_gateway_at_start(
    profile: dict[str, object], said: str
) -> None:
    from traitlets import TraitError

    from gateway.launchers.kube.launcher import PodLauncher

    with pytest.raises(TraitError, match=said):
        PodLauncher("/dashboards/", [], [], [], profiles=[profile])
