"""The runtime record: read back as written, and what older or broken records become."""

from __future__ import annotations

import pytest

from gateway.domain.runtime import Runtime, RuntimeRecord

LAUNCH = Runtime("abc", "10.0.0.7", 8888, 1700000000.5, {"pod": "podium-alice-sales"})


@pytest.mark.parametrize(
    "record",
    [
        RuntimeRecord(),
        RuntimeRecord(LAUNCH),
        RuntimeRecord(LAUNCH, failures=3, retry_at=1700000100.0),
        RuntimeRecord(None, failures=1, retry_at=5.0, permanent=True),
    ],
)
def test_a_record_reads_back_as_written(record: RuntimeRecord) -> None:
    assert RuntimeRecord.from_json(record.as_json()) == record


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (None, RuntimeRecord()),
        ({}, RuntimeRecord()),
        ({"failures": 1}, RuntimeRecord(failures=1)),  # a restart after an unexpected stop
        ({"failures": "2", "retry_at": "soon", "permanent": 1}, RuntimeRecord()),
        ({"failures": -4}, RuntimeRecord()),
        ({**LAUNCH.as_json(), "port": "8888", "details": None}, RuntimeRecord(
            Runtime("abc", "10.0.0.7", 8888, 1700000000.5, {}))),
    ],
)  # fmt: skip
def test_what_older_or_broken_records_become(doc: dict[str, object] | None,
                                             expected: RuntimeRecord) -> None:  # fmt: skip
    assert RuntimeRecord.from_json(doc) == expected


def test_when_a_visit_may_start_a_failed_dashboard_again() -> None:
    assert RuntimeRecord().may_retry(now=0)
    assert not RuntimeRecord(failures=2, retry_at=100.0).may_retry(now=99.9)
    assert RuntimeRecord(failures=2, retry_at=100.0).may_retry(now=100.0)
    assert not RuntimeRecord(failures=1, retry_at=0.0, permanent=True).may_retry(now=1e12)
