"""Per-creator quotas: dashboards owned, running at once, creates and starts an hour; admins
are exempt; each refusal names its limit."""

from __future__ import annotations

import pytest

from gateway.domain.dashboards import Dashboard
from gateway.domain.quotas import Quotas
from gateway.errors import Conflict, TooMany
from tests.support.flows import api, wait_status
from tests.support.hubstack import HubStack
from tests.support.stacks import stack_fixture


def dashboards(running: int, stopped: int) -> list[Dashboard]:
    return [Dashboard("alice", f"r{i}", "custom", status="ready") for i in range(running)] + [
        Dashboard("alice", f"s{i}", "custom") for i in range(stopped)
    ]


@pytest.mark.unit
def test_owned_and_running_are_counted_from_what_exists() -> None:
    quotas = Quotas(owned=3, running=2)
    quotas.check_create("alice", dashboards(1, 1))
    with pytest.raises(Conflict, match=r"max_dashboards_per_user = 3"):
        quotas.check_create("alice", dashboards(1, 2))
    quotas.check_start("alice", dashboards(1, 5))
    with pytest.raises(Conflict, match=r"2 dashboards running.*max_running_per_user = 2"):
        quotas.check_start("alice", dashboards(2, 0))


@pytest.mark.unit
def test_rates_are_per_creator_per_hour() -> None:
    quotas = Quotas(creates_per_hour=2)
    quotas.check_create("alice", [])
    quotas.check_create("alice", [])
    with pytest.raises(TooMany, match="creates_per_hour") as refused:
        quotas.check_create("alice", [])
    assert 0 < refused.value.retry_after <= 3601
    quotas.check_create("bob", [])  # everyone has their own
    Quotas().check_create("alice", dashboards(1000, 1000))  # 0: no limit


EXTRA = """
c.Podium.frameworks = ["custom"]
c.Podium.max_dashboards_per_user = 2
c.Podium.max_running_per_user = 1
c.Podium.creates_per_hour = 2
"""


def doc(name: str) -> dict[str, object]:
    return {
        "name": name, "framework": "custom", "source": {"type": "storage", "path": "app"},
        "command": ["{python}", "serve.py", "--port", "{port}", "--prefix", "{prefix}"],
        "access": {"mode": "authenticated"},
    }  # fmt: skip


stack = stack_fixture(
    "quotas",
    files={"alice/app/serve.py": "custom/serve.py", "admin/app/serve.py": "custom/serve.py"},
    podium=EXTRA,
)


@pytest.mark.functional
async def test_a_creator_meets_the_quotas_an_admin_does_not(stack: HubStack) -> None:
    alice, admin = await stack.token_for("alice"), await stack.token_for("admin")
    for name in ("a1", "a2"):
        assert (await api(stack, alice, "POST", "/dashboards", doc(name)))[0] == 201
    status, error = await api(stack, alice, "POST", "/dashboards", doc("a3"))
    assert status == 409 and "max_dashboards_per_user = 2" in error["message"], error

    await wait_status(stack, {"alice": alice}, "a1", "ready", start=True)
    status, error = await api(stack, alice, "POST", "/dashboards/alice/a2/start")
    assert status == 409 and "max_running_per_user = 1" in error["message"], error
    assert (await api(stack, alice, "POST", "/dashboards/alice/a1/start"))[0] == 202  # running

    assert (await api(stack, alice, "DELETE", "/dashboards/alice/a2"))[0] == 204
    status, error = await api(stack, alice, "POST", "/dashboards", doc("a4"))  # a 3rd create
    assert status == 429 and "creates_per_hour" in error["message"], error

    for name in ("b1", "b2", "b3"):  # an admin: no limits
        assert (await api(stack, admin, "POST", "/dashboards", doc(name)))[0] == 201
        assert (await api(stack, admin, "POST", f"/dashboards/admin/{name}/start"))[0] == 202
