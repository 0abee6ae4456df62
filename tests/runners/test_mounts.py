"""Which of the host's shared places a framework with a network of its own sees empty,
and what of them is bound back (runners/mounts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runners.mounts import outermost, plan

pytestmark = pytest.mark.unit


def test_outermost_binds_a_folder_once() -> None:
    assert outermost(["/tmp/a/b", "/tmp/a", "/tmp/ab", "/tmp/a/c/d"]) == ["/tmp/a", "/tmp/ab"]


def test_what_is_hidden_and_what_comes_back(tmp_path: Path) -> None:
    hidden, kept = tmp_path / "hidden", tmp_path / "kept"
    (hidden / "mine" / "deep").mkdir(parents=True)
    (hidden / "python").mkdir()
    (kept / "inside").mkdir(parents=True)  # a place inside a kept path stays as it is
    link = tmp_path / "link"
    link.symlink_to(hidden / "python")  # named by a link: bound where it really is
    found = plan(
        [str(hidden / "mine"), str(hidden / "mine" / "deep"), str(link), str(kept), "/nowhere"],
        hidden=[str(hidden), str(kept / "inside"), str(tmp_path / "absent")],
    )
    assert found == {str(hidden): [str(hidden / "mine"), str(hidden / "python")]}


def test_a_place_named_itself_is_the_frameworks_own_empty_one(tmp_path: Path) -> None:
    assert plan([str(tmp_path)], hidden=[str(tmp_path)]) == {str(tmp_path): []}
