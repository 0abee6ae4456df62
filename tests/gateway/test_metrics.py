"""``_/metrics`` after a known workload: the counts are the workload's, the names are the
ones deploy/grafana's dashboard charts, the token is required when the admin sets one."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.errors import Misconfigured
from gateway.metrics import configured, hub_call
from tests.support.flows import started
from tests.support.hubstack import ROOT, HubStack
from tests.support.stacks import stack_fixture

pytestmark = pytest.mark.functional
TOKEN = "prometheus-reads-this"
stack = stack_fixture(
    "metrics",
    files={"alice/app/bench.py": "custom/bench.py"},
    podium=f'c.Podium.frameworks = ["custom"]\nc.Podium.metrics_token = "{TOKEN}"\n',
)
BENCH = {
    "framework": "custom",
    "command": ["{python}", "bench.py", "--port", "{port}", "--prefix", "{prefix}"],
    "source": {"type": "storage", "path": "app"},
    "access": {"mode": "restricted", "users": ["bob"]},
}


async def scrape(stack: HubStack) -> dict[str, float]:
    """Every sample, as ``name{label="value",…}`` → value."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as s,
        s.get(stack.podium + "_/metrics", headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        text = await r.text()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


async def test_a_known_workload_is_counted(stack: HubStack) -> None:
    alice, bob = await stack.token_for("alice"), await stack.token_for("bob")
    before = await scrape(stack)
    await started(stack, alice, "alice", {"name": "counted", **BENCH})
    link = stack.podium + "alice/counted/"
    async with aiohttp.ClientSession(headers={"Authorization": f"token {bob}"}) as s:
        for _ in range(5):
            async with s.get(link) as r:
                assert r.status == 200
        for _ in range(2):
            async with s.get(link + "nosuch") as r:
                assert r.status == 404
        ws_url = link.replace("http", "ws", 1) + "ws"
        async with s.ws_connect(ws_url, headers={"Origin": stack.base}) as ws:
            await ws.send_str("hi")
            assert (await ws.receive(timeout=10)).data == "hi"
            during = await scrape(stack)
    after = await scrape(stack)

    def grew(sample: str) -> float:
        return after.get(sample, 0) - before.get(sample, 0)

    assert grew('podium_proxied_requests_total{code="2xx"}') == 5
    assert grew('podium_proxied_requests_total{code="4xx"}') == 2
    assert grew('podium_proxied_requests_total{code="1xx"}') == 1  # the WebSocket's 101
    assert grew('podium_proxied_response_seconds_count{code="2xx"}') == 5
    assert during["podium_websockets_open{}"] == 1 and after["podium_websockets_open{}"] == 0
    assert grew("podium_starts_total{}") == 1 and grew("podium_starts_ready_total{}") == 1
    assert grew("podium_wakeup_seconds_count{}") == 1 and grew("podium_wakeup_seconds_sum{}") > 0
    assert after['podium_dashboards{status="ready"}'] >= 1
    assert grew('podium_hub_request_seconds_count{call="user"}') >= 1  # bob's token, asked
    assert grew('podium_store_query_seconds_count{kind="select"}') > 0
    hits = 'podium_cache_lookups_total{cache="identity",result="hit"}'
    assert grew(hits) >= 4  # bob's token, known after his first request
    # Bounded: no sample names a viewer or (unless the admin asks) a dashboard.
    assert not [k for k in after if "bob" in k or "counted" in k]


async def test_the_token_is_required_when_set(stack: HubStack) -> None:
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with s.get(stack.podium + "_/metrics", headers=headers) as r:
                assert r.status == 401, headers
        # Sent by mistake elsewhere (a trailing slash, another path), it reaches no hub.
        asked = 'podium_hub_request_seconds_count{call="user"}'
        before = (await scrape(stack)).get(asked, 0)
        for path in ("_/metrics/", "_/Metrics", "_/api/user", "alice/counted/"):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with s.get(stack.podium + path, headers=headers, allow_redirects=False):
                pass
        assert (await scrape(stack)).get(asked, 0) == before


async def test_the_grafana_dashboard_charts_what_is_served(stack: HubStack) -> None:
    served = {key.split("{")[0] for key in await scrape(stack)}
    board = json.loads((ROOT / "deploy" / "grafana" / "podium.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    named = {n for e in exprs for n in re.findall(r"\bpodium_[a-z_]+", e)}
    assert named and named <= served, named - served


@pytest.mark.unit
def test_per_dashboard_labels_need_a_token_and_hub_calls_name_no_user() -> None:
    with pytest.raises(Misconfigured, match="metrics_token"):
        configured(True, "")
    assert configured(True, "t").per_dashboard
    assert [hub_call(p) for p in ("/user", "/users/jane.doe@example.org", "/groups/x?a=1")] == [
        "user", "users", "groups"
    ]  # fmt: skip
