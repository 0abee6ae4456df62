"""Properties, checked by hypothesis over generated inputs: the access decision and the
validators. Each property is a promise the threat model relies on."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.domain.access import User, can_manage, can_view
from gateway.domain.dashboards import ACCESS_MODES, Access, Dashboard
from gateway.domain.validation import NAME, Rules, parse_create, parse_patch, problems
from gateway.errors import Invalid
from gateway.web.forms import to_document
from runners.errors import SpecError
from runners.spec import relative_path

pytestmark = pytest.mark.unit
CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["alice", "bob", "carol", "dave", "admin"])
groups = st.frozensets(st.sampled_from(["analysts", "sales", "ops"]), max_size=3)
users = st.builds(User, name=names, admin=st.booleans(), groups=groups)
accesses = st.builds(
    Access,
    mode=st.sampled_from(ACCESS_MODES),
    users=st.lists(names, max_size=3).map(tuple),
    groups=st.lists(st.sampled_from(["analysts", "sales", "ops"]), max_size=3).map(tuple),
)
dashboards = st.builds(
    Dashboard, owner=names, name=st.just("d"), framework=st.just("streamlit"), access=accesses
)


@CHECKS
@given(user=st.none() | users, dashboard=dashboards, public=st.booleans())
def test_can_view_is_exactly_the_documented_rule(
    user: User | None, dashboard: Dashboard, public: bool
) -> None:
    mode, access = dashboard.access.mode, dashboard.access
    expected = (mode == "public" and public) or (
        user is not None
        and (
            user.admin
            or user.name == dashboard.owner
            or mode in ("authenticated", "public")
            or (
                mode == "restricted"
                and (user.name in access.users or bool(user.groups & set(access.groups)))
            )
        )
    )
    assert can_view(user, dashboard, public_enabled=public) == expected


@CHECKS
@given(user=users, dashboard=dashboards, public=st.booleans())
def test_whoever_manages_may_view_and_only_owner_or_admin_manage(
    user: User, dashboard: Dashboard, public: bool
) -> None:
    if can_manage(user, dashboard):
        assert can_view(user, dashboard, public_enabled=public)
    assert can_manage(user, dashboard) == (user.admin or user.name == dashboard.owner)
    # Nobody anonymous gets anything but a public dashboard where public is on.
    assert can_view(None, dashboard, public_enabled=public) == (
        public and dashboard.access.mode == "public"
    )


@CHECKS
@given(path=st.text(max_size=60))
def test_relative_paths_never_leave_their_root(path: str) -> None:
    try:
        clean = relative_path(path, "entry")
    except SpecError:
        return
    parts = clean.split("/") if clean else []
    assert not clean.startswith("/") and ".." not in parts and "\x00" not in clean


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["name", "title", "description", "framework", "source", "entry", "access", "env",
     "idle_timeout", "command", "profile", "owner", "url", "status", "extra"]
)  # fmt: skip


@CHECKS
@given(doc=st.dictionaries(fields, json_values, max_size=8))
def test_any_document_is_accepted_whole_or_refused_with_a_field(doc: dict[str, Any]) -> None:
    """No input crashes the validators; a refusal names what to fix; acceptance is safe."""
    rules = Rules(profiles=("small",), frameworks=("streamlit", "voila", "custom"))
    try:
        d = parse_create(doc, "alice", rules)
    except Invalid as e:
        assert e.message and e.field
        assert problems(doc, "alice", rules), "the form finds what the API refuses"
        return
    assert problems(doc, "alice", rules) == {}
    assert NAME.match(d.name) and d.owner == "alice"
    assert d.access.mode in ACCESS_MODES and d.access.mode != "public"  # not enabled here
    assert all(not k.upper().startswith(("PODIUM_", "JUPYTERHUB_", "JPY_")) for k in d.env)
    assert parse_patch({}, d, rules).name == d.name


@CHECKS
@given(
    fields=st.dictionaries(
        st.sampled_from(["name", "title", "framework", "source_type", "source_path", "git_url",
                         "entry", "access_mode", "env", "idle_minutes", "command", "profile"]),
        st.text(max_size=40),
        max_size=10,
    )
)  # fmt: skip
def test_any_form_becomes_a_document_or_field_errors(fields: dict[str, str]) -> None:
    from multidict import MultiDict

    doc, errors = to_document(MultiDict(fields), creating=True)
    assert set(errors) <= {"env", "idle_minutes"}
    assert isinstance(problems(doc, "alice", Rules()), dict)
