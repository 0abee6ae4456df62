"""The create/edit form's fields to the API document and back (pure functions)."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from gateway.domain.dashboards import Access, Dashboard, Source
from gateway.domain.validation import Rules, parse_create
from gateway.web.forms import form_errors, from_form, parse_env, to_document, to_values

pytestmark = pytest.mark.unit


def form(**fields: str | list[str]) -> MultiDict[str]:
    items: list[tuple[str, str]] = []
    for key, value in fields.items():
        items += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    return MultiDict(items)


def test_a_storage_dashboard_from_the_form() -> None:
    doc, errors = to_document(
        form(
            name="sales",
            title=" Sales ",
            framework="streamlit",
            source_type="storage",
            source_path="/apps/sales/",
            entry="app.py",
            access_mode="restricted",
            access_users=["carol"],
            access_groups=["analysts", "sales"],
            env="REGION=emea\n\n  DEBUG = 1 \n",
            idle_minutes="45",
            start="1",
        ),
        creating=True,
    )
    assert errors == {}
    assert doc == {
        "name": "sales",
        "title": "Sales",
        "description": "",
        "framework": "streamlit",
        "entry": "app.py",
        "command": [],
        "source": {"type": "storage", "path": "apps/sales"},
        "access": {"mode": "restricted", "users": ["carol"], "groups": ["analysts", "sales"]},
        "env": {"REGION": "emea", "DEBUG": "1"},
        "idle_timeout": 2700,
    }
    assert parse_create(doc, "alice", Rules()).idle_timeout == 2700


def test_git_and_custom_and_the_users_text_field() -> None:
    doc, errors = to_document(
        form(
            framework="custom",
            command="python\napp.py\n--port\n{port}\n",
            source_type="git",
            git_url="https://git.example/r.git",
            git_ref="v1",
            git_path="app/",
            access_mode="restricted",
            access_users="bob, carol ,",
            idle_minutes="",
        ),
        creating=False,
    )
    assert errors == {} and "name" not in doc and "idle_timeout" not in doc
    assert doc["command"] == ["python", "app.py", "--port", "{port}"]
    assert doc["source"] == {
        "type": "git",
        "url": "https://git.example/r.git",
        "ref": "v1",
        "path": "app",
    }
    assert doc["access"]["users"] == ["bob", "carol"]


def test_mistakes_found_before_validation() -> None:
    _, errors = to_document(form(env="REGION emea", idle_minutes="soon"), creating=True)
    assert errors == {
        "env": "line 1 ('REGION emea') is not NAME=value",
        "idle_minutes": "write a number of minutes, e.g. 30",
    }
    with pytest.raises(ValueError):
        parse_env("=x\nNO_EQUALS")


@pytest.mark.parametrize("minutes", ["inf", "-Infinity", "nan", "1e400"])
def test_idle_minutes_that_are_not_a_number_of_minutes(minutes: str) -> None:
    """Found by hypothesis: "INF" reached round() and was a 500."""
    _, errors = to_document(form(idle_minutes=minutes), creating=True)
    assert errors["idle_minutes"] == "write a number of minutes, e.g. 30"


def test_api_fields_shown_at_the_form_field() -> None:
    rules = Rules(idle_min=300, idle_max=3600)
    shown = form_errors(
        {
            "source.path": "bad path",
            "source.url": "bad url",
            "env.X": "too long",
            "idle_timeout": "idle_timeout must be between 300 and 3600 seconds",
            "access.groups": "no such hub group: x",
            "something.else": "?",
        },
        "git",
        rules,
    )
    assert shown == {
        "git_path": "bad path",
        "git_url": "bad url",
        "env": "too long",
        "idle_minutes": "choose between 5 and 60 minutes",
        "access_groups": "no such hub group: x",
        "form": "?",
    }
    assert form_errors({"source.path": "bad"}, "storage", rules) == {"source_path": "bad"}


def test_edit_starts_from_the_dashboard_and_round_trips() -> None:
    d = Dashboard(
        owner="alice", name="sales", framework="streamlit", entry="app.py", title="Sales",
        source=Source(type="git", url="https://git.example/r.git", ref="main", path="app"),
        access=Access(mode="restricted", users=("bob",), groups=("analysts",)),
        env={"A": "1", "B": "x=y"}, idle_timeout=5400,
    )  # fmt: skip
    values = to_values(d)
    assert values["idle_minutes"] == "90" and values["git_path"] == "app"
    assert values["source_path"] == "" and values["env"] == "A=1\nB=x=y"
    fields = {k: v for k, v in values.items() if k != "name"}
    doc, errors = to_document(form(**fields), creating=False)
    assert errors == {} and doc["env"] == {"A": "1", "B": "x=y"}
    assert doc["source"] == d.source.as_json() and doc["access"] == d.access.as_json()
    assert from_form(form(**fields))["access_groups"] == ["analysts"]
