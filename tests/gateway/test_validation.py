"""What a creator may send: everything wrong is a 400 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.domain.dashboards import Access, Source
from gateway.domain.validation import Rules, parse_create, parse_patch, problems, rebuild_needed
from gateway.errors import Invalid

pytestmark = pytest.mark.unit

RULES = Rules()


def body(**change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "sales",
        "framework": "streamlit",
        "entry": "app.py",
        "source": {"type": "storage", "path": "apps/sales"},
        "access": {"mode": "restricted", "users": ["carol"], "groups": ["analysts"]},
        "env": {"REGION": "emea"},
        "idle_timeout": 1800,
    }
    doc.update(change)
    return {k: v for k, v in doc.items() if v is not None}


def test_create_from_the_design_example() -> None:
    d = parse_create(body(title="Sales"), "alice", RULES)
    assert (d.owner, d.name, d.title, d.framework, d.entry) == (
        "alice",
        "sales",
        "Sales",
        "streamlit",
        "app.py",
    )
    assert d.source == Source(type="storage", path="apps/sales")
    assert d.access == Access("restricted", ("carol",), ("analysts",))
    assert d.url("/dashboards/") == "/dashboards/alice/sales/"
    assert d.as_json("/dashboards/")["status"] == "stopped"


def test_title_defaults_to_the_name() -> None:
    assert parse_create(body(), "alice", RULES).title == "sales"


def test_git_source() -> None:
    d = parse_create(
        body(
            source={"type": "git", "url": "https://github.com/o/r.git", "ref": "v1", "path": "app"}
        ),
        "alice",
        RULES,
    )
    assert d.source == Source(type="git", url="https://github.com/o/r.git", ref="v1", path="app")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "Sales"}, "name", "lowercase"),
        ({"name": "-x"}, "name", "starting and ending"),
        ({"name": "a" * 64}, "name", "1 to 63"),
        ({"name": None}, "name", "the name must be"),
        ({"framework": "flask"}, "framework", "framework must be one of"),
        ({"framework": None}, "framework", "framework is required"),
        ({"entry": "../x.py"}, "entry", "must not contain '..'"),
        ({"entry": "/etc/passwd"}, "entry", "must be relative"),
        ({"entry": ""}, "entry", "entry names the notebook"),
        ({"source": {"type": "storage", "path": "../bob"}}, "source.path", "must not contain '..'"),
        ({"source": {"type": "git", "url": "file:///etc"}}, "source.url", "local files"),
        (
            {"source": {"type": "git", "url": "https://169.254.169.254/latest/"}},
            "source.url",
            "internal address",
        ),  # the cloud's metadata server
        (
            {"source": {"type": "git", "url": "https://[::ffff:127.0.0.1]/r.git"}},
            "source.url",
            "internal address",
        ),
        (
            {"source": {"type": "git", "url": "git@10.1.2.3:team/r.git"}},
            "source.url",
            "internal address",
        ),
        (
            {"source": {"type": "git", "url": "ext::sh -c x"}},
            "source.url",
            "must not contain spaces",
        ),
        ({"source": {"type": "git", "url": "-oProxyCommand=x"}}, "source.url", "starts with '-'"),
        (
            {"source": {"type": "git", "url": "http://h/r"}},
            "source.url",
            "scheme 'http' is not allowed",
        ),
        (
            {"source": {"type": "git", "url": "https://h/r", "ref": "--upload-pack=x"}},
            "source.ref",
            "not a valid",
        ),
        ({"source": {"type": "s3"}}, "source.type", "'storage' or 'git'"),
        ({"source": {"type": "storage", "path": "a", "extra": 1}}, "source.extra", "unknown field"),
        ({"access": {"mode": "everyone"}}, "access.mode", "must be one of"),
        ({"access": {"mode": "public"}}, "access.mode", "not enabled"),
        ({"access": {"mode": "restricted", "users": "carol"}}, "access.users", "list of names"),
        ({"env": {"1X": "y"}}, "env", "not a valid environment variable name"),
        ({"env": {"PODIUM_X": "y"}}, "env", "reserved"),
        ({"env": {"jupyterhub_api_token": "y"}}, "env", "reserved"),
        ({"env": {"X": 1}}, "env.X", "must be text"),
        ({"idle_timeout": 5}, "idle_timeout", "between 300 and 86400"),
        ({"idle_timeout": 0}, "idle_timeout", "between"),
        ({"idle_timeout": "1800"}, "idle_timeout", "whole number"),
        ({"title": "x" * 201}, "title", "too long"),
        ({"status": "ready"}, "status", "cannot be set"),
        ({"owner": "bob"}, "owner", "cannot be set"),
        ({"surprise": 1}, "dashboard.surprise", "unknown field"),
    ],
)
def test_invalid_create(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_create(body(**change), "alice", RULES)
    assert error.value.field == field
    assert words in error.value.message


def test_public_when_enabled_and_always_on_for_admins() -> None:
    rules = Rules(public_enabled=True)
    assert parse_create(body(access={"mode": "public"}), "alice", rules).access.mode == "public"
    assert parse_create(body(idle_timeout=0), "root", RULES, admin=True).idle_timeout == 0


def test_not_an_object() -> None:
    with pytest.raises(Invalid, match="must be a JSON object"):
        parse_create(["sales"], "alice", RULES)


def test_patch() -> None:
    d = parse_create(body(), "alice", RULES)
    changed = parse_patch({"title": "New", "access": {"mode": "authenticated"}}, d, RULES)
    assert changed.title == "New" and changed.access.mode == "authenticated"
    assert changed.entry == d.entry and changed.created == d.created
    assert not rebuild_needed(d, changed)
    assert rebuild_needed(d, parse_patch({"entry": "other.py"}, d, RULES))
    with pytest.raises(Invalid, match="cannot be renamed"):
        parse_patch({"name": "other"}, d, RULES)
    with pytest.raises(Invalid, match="cannot be changed"):
        parse_patch({"status": "ready"}, d, RULES)


def test_custom_command_only_where_enabled() -> None:
    rules = Rules(frameworks=("streamlit", "custom"))
    command = ["python", "serve.py", "--port", "{port}", "--prefix", "{prefix}"]
    d = parse_create(body(framework="custom", entry="", command=command), "alice", rules)
    assert d.command == tuple(command) and d.as_json("/d/")["command"] == command
    with pytest.raises(Invalid, match="needs a command"):
        parse_create(body(framework="custom", entry=""), "alice", rules)
    with pytest.raises(Invalid, match="only for the framework 'custom'"):
        parse_create(body(command=command), "alice", rules)
    with pytest.raises(Invalid, match="framework must be one of"):
        parse_create(body(framework="custom", command=command), "alice", RULES)
    with pytest.raises(Invalid, match="list of arguments"):
        parse_create(body(framework="custom", command="python serve.py"), "alice", rules)


def test_profiles_are_the_admins_names_only() -> None:
    offered = Rules(profiles=("small", "gpu"))
    assert parse_create(body(profile="gpu"), "alice", offered).profile == "gpu"
    assert parse_create(body(), "alice", offered).profile == ""  # the default
    with pytest.raises(Invalid, match="profile must be one of: small, gpu") as e:
        parse_create(body(profile="huge"), "alice", offered)
    assert e.value.field == "profile"
    with pytest.raises(Invalid, match="this hub has no profiles"):
        parse_create(body(profile="gpu"), "alice", RULES)


def test_a_source_on_a_shared_volume_is_one_the_admin_shares() -> None:
    shared = Rules(shared_volumes=("team",))
    source = {"type": "storage", "volume": "team", "path": "apps/sales"}
    d = parse_create(body(source=source), "alice", shared)
    assert d.source == Source("storage", "apps/sales", volume="team")
    assert d.source.as_json() == source
    assert Source("storage", "x").as_json() == {"type": "storage", "path": "x"}  # as before
    own = parse_create(body(source={"type": "storage", "volume": "", "path": "a"}), "a", shared)
    assert own.source.volume == ""
    for volume in ("other", 0, None, ["team"]):
        with pytest.raises(Invalid, match="one of the shared volumes: team") as e:
            parse_create(body(source={**source, "volume": volume}), "alice", shared)
        assert e.value.field == "source.volume"
    with pytest.raises(Invalid, match="this hub shares no volumes"):
        parse_create(body(source=source), "alice", RULES)
    git = {"type": "git", "url": "https://example.org/r.git", "volume": "team"}
    with pytest.raises(Invalid):
        parse_create(body(source=git), "alice", shared)
    moved = parse_patch({"source": {"type": "storage", "path": "apps/sales"}}, d, shared)
    assert rebuild_needed(d, moved)  # from the shared volume to the owner's own


def test_what_runs_changed_means_a_rebuild() -> None:
    offered = Rules(profiles=("gpu",), frameworks=("streamlit", "custom"))
    d = parse_create(body(), "alice", offered)
    assert rebuild_needed(d, parse_patch({"profile": "gpu"}, d, offered))
    custom = parse_create(
        body(framework="custom", entry=None, command=["python", "a.py"]), "alice", offered
    )
    assert rebuild_needed(custom, parse_patch({"command": ["python", "b.py"]}, custom, offered))


def test_problems_names_every_bad_field_at_once() -> None:
    doc = body(
        name="Bad Name",
        source={"type": "git", "url": "file:///etc", "ref": "--upload-pack=x", "path": ""},
        idle_timeout=5,
        env={"PODIUM_TOKEN": "x"},
    )
    found = problems(doc, "alice", RULES)
    assert set(found) == {"name", "source.url", "idle_timeout", "env"}
    assert "lowercase" in found["name"] and "seconds" in found["idle_timeout"]


def test_problems_is_empty_exactly_when_the_api_accepts() -> None:
    assert problems(body(), "alice", RULES) == {}
    parse_create(body(), "alice", RULES)
    # Cross-field rules come after the fields: an entry is needed (not for custom).
    assert problems(body(entry=""), "alice", RULES) == {
        "entry": "entry names the notebook or script to run"
    }
    current = parse_create(body(), "alice", RULES)
    assert problems({"title": "New"}, "alice", RULES, current=current) == {}
    assert "renamed" in problems({"name": "other"}, "alice", RULES, current=current)["name"]


@pytest.mark.parametrize("entry", ["app\x00.py", "a\nb.py", "tab\t.py", "del\x7f.py"])
def test_control_characters_in_paths_are_refused(entry: str) -> None:
    """Found by hypothesis: a NUL byte passed the path rule, then failed in os calls (500)."""
    with pytest.raises(Invalid) as refused:
        parse_create(body(entry=entry), "alice", RULES)
    assert refused.value.field == "entry" and "control characters" in refused.value.message


@pytest.mark.parametrize("name", ["_", "_api", "-x", "x-", "A", "a" * 64, "a/b", "a.b", "..", ""])
def test_names_cannot_squat_the_gateways_paths_or_break_the_url(name: str) -> None:
    """``P_/…`` is the gateway's own (API, pages, static): no dashboard name can take it."""
    with pytest.raises(Invalid) as refused:
        parse_create(body(name=name), "alice", RULES)
    assert refused.value.field == "name"
