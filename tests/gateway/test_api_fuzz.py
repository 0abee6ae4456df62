"""The REST API under generated requests (schemathesis, from the API's own OpenAPI document):
no request makes it fail with a 5xx, and every refusal carries a message a person can act on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import openapi

from tests.support.hubstack import HubStack
from tests.support.stacks import stack_fixture

pytestmark = pytest.mark.functional
EXAMPLES = 15


stack = stack_fixture("fuzz", users=("alice",))


async def test_no_generated_request_gets_a_5xx(stack: HubStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.podium + "_/api/openapi.json") as r,
    ):
        document = await r.json()
    schema = openapi.from_dict(document)
    base = stack.podium + "_/api"
    auth = {"Authorization": f"token {await stack.token_for('alice')}"}
    seen: list[str] = []

    def exercise(operation: object) -> None:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())  # type: ignore[attr-defined]
        def check(case: object) -> None:
            response = case.call(base_url=base, headers=auth, timeout=15)  # type: ignore[attr-defined]
            where = f"{case.method} {response.request.url}"  # type: ignore[attr-defined]
            seen.append(where)
            assert response.status_code < 500, (
                f"{where}: {response.status_code} {response.text[:300]}"
            )
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body.get("message"), str) and body["message"], f"{where}: {body}"

        check()

    for result in schema.get_all_operations():
        await asyncio.to_thread(exercise, result.ok())
    assert len(seen) >= 10 * EXAMPLES, "every operation was exercised"
