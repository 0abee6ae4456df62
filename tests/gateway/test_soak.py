"""The bounded soak (``bench/soak.py``), shortened: 200 viewers over 20 dashboards for 45 s
while five runners are killed and the gateway restarts. Nothing may be lost: no request
without an answer or with a partial page, no dashboard gone, changed or not ready again,
no runner replaced that was not killed. The errors viewers saw are printed, not judged
(their number depends on this machine's load); ``python -m bench.soak`` runs it longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import PODIUM_EXTRA, soak
from tests.support.hubstack import hub_stack

pytestmark = [pytest.mark.functional, pytest.mark.slow]


async def test_two_hundred_viewers_lose_nothing_through_kills_and_a_gateway_restart(
    tmp_path: Path,
) -> None:
    async with hub_stack(tmp_path, podium_extra=PODIUM_EXTRA) as stack:
        figures = await soak(stack, viewers=200, dashboards=20, seconds=45)
    print(figures.report())
    assert figures.runners_killed == 5 and figures.gateway_restarts == 1, figures.report()
    assert figures.ok > 0 and sum(figures.lost.values()) == 0, figures.report()
    assert figures.dashboards_lost == [], figures.report()
    assert figures.runners_replaced_unasked == [], figures.report()
    assert figures.echoed > 0, figures.report()
