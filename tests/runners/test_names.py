"""One rule for an owner's URL segment and folder (runners.names), by table and by property."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runners.names import (
    UnusableName,
    folder_name,
    is_canonical,
    owner_from_segment,
    owner_segment,
)
from runners.spec import prefix_ok

pytestmark = pytest.mark.unit

# The names of issue 13, as JupyterHub spells them in its own /user/<name>/ URLs.
SEGMENTS = [
    ("jane.doe@example.org", "jane.doe@example.org"),
    ("o'neil", "o%27neil"),
    ("a+b", "a%2Bb"),
    ("ünï", "%C3%BCn%C3%AF"),
    ("x_y-z", "x_y-z"),
    ("12345", "12345"),
    ("alice", "alice"),
    ("a b", "a%20b"),
    ("50%off", "50%25off"),
    ("...", "..."),
    ("a?b#c", "a%3Fb%23c"),
]


@pytest.mark.parametrize(("name", "segment"), SEGMENTS)
def test_segment_is_jupyterhubs_own_escaping(name: str, segment: str) -> None:
    assert owner_segment(name) == segment
    assert owner_from_segment(segment) == name
    assert is_canonical(segment)
    assert prefix_ok(f"/dashboards/{segment}/sales/")
    assert folder_name(name) == name


@pytest.mark.parametrize(
    ("spelling", "owner"),
    [
        ("o'neil", "o'neil"),  # a browser sends ' raw
        ("jane.doe%40example.org", "jane.doe@example.org"),  # a client escapes @
        ("a+b", "a+b"),
        ("%c3%bcn%c3%af", "ünï"),  # lower-case escapes
        ("ünï", "ünï"),  # raw UTF-8, as a client that does not escape sends it
        ("%78_y-z", "x_y-z"),
    ],
)
def test_other_spellings_name_the_same_owner_but_are_not_canonical(
    spelling: str, owner: str
) -> None:
    assert owner_from_segment(spelling) == owner
    assert not is_canonical(spelling)
    assert not prefix_ok(f"/dashboards/{spelling}/sales/")


@pytest.mark.parametrize("name", ["", ".", "..", "_", "a/b", "a\x00b", "\ud800"])
def test_names_that_would_climb_or_cannot_be_a_file_are_refused(name: str) -> None:
    with pytest.raises(UnusableName):
        owner_segment(name)
    with pytest.raises(UnusableName):
        folder_name(name)


@pytest.mark.parametrize(
    "segment",
    [".", "..", "%2E%2E", "%2e", "a%2Fb", "a%00b", "a%zzb", "a%2", "%C3", "a b", "a?b", "a#b", ""],
)
def test_segments_that_climb_or_are_malformed(segment: str) -> None:
    assert not is_canonical(segment)
    assert not prefix_ok(f"/dashboards/{segment}/sales/")


@pytest.mark.parametrize("segment", [".", "..", "%2E%2E", "a%2Fb", "a%00b", "a%zzb", "%C3", "a b"])
def test_no_owner_from_a_bad_segment(segment: str) -> None:
    with pytest.raises(UnusableName):
        owner_from_segment(segment)


# JupyterHub's validate_username: not empty, no "/", no leading or trailing space, not only
# dots; normalized to lower case. Left out, refused above: NUL (no file name can hold it)
# and "_" (the gateway's own pages).
hub_names = (
    st.text(
        st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
        min_size=1,
        max_size=40,
    )
    .map(str.lower)
    .filter(lambda n: n == n.strip() and n and set(n) != {"."} and n != "_")
)


@given(hub_names)
def test_every_hub_name_round_trips_and_the_runner_accepts_it(name: str) -> None:
    segment = owner_segment(name)
    assert segment == quote(name, safe="@~")  # jupyterhub.utils.url_escape_path
    assert owner_from_segment(segment) == name
    assert is_canonical(segment)
    assert prefix_ok(f"/dashboards/{segment}/sales/")
    assert "/" not in folder_name(name)
