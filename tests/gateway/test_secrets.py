"""Secrets: write-only, encrypted at rest, names the only thing ever shown; git credentials
taken out of URLs and kept with them."""

from __future__ import annotations

import base64
import secrets as random
from typing import Any

import pytest

from gateway.domain.dashboards import Dashboard
from gateway.domain.secrets import (
    GIT,
    Crypt,
    CryptKeyError,
    Unreadable,
    git_login,
    reveal,
    split_credentials,
)
from gateway.domain.validation import Rules, parse_create, parse_patch, rebuild_needed
from gateway.errors import Invalid
from gateway.launchers.base import git_source, runner_spec

pytestmark = pytest.mark.unit

KEY = random.token_hex(32)
CRYPT = Crypt.parse(KEY)
RULES = Rules(frameworks=("streamlit",), git_schemes=("https",), crypt=CRYPT)
GIT_DOC = {"type": "git", "url": "https://alice:t0ken@git.example.org/team/sales.git"}


def create(**doc: Any) -> Dashboard:
    base = {"name": "sales", "framework": "streamlit", "entry": "app.py"}
    return parse_create({**base, **doc}, "alice", RULES)


def everything_shown(d: Dashboard) -> str:
    return repr(d.as_json("/dashboards/")) + repr(d.public_json("/dashboards/"))


def test_keys_as_jupyterhub_takes_them() -> None:
    raw = random.token_bytes(32)
    for text in (raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        crypt = Crypt.parse(text)
        assert crypt is not None and crypt.decrypt(crypt.encrypt("x")) == "x"
    assert Crypt.parse("") is None and Crypt.parse(" ; ") is None
    for bad in ("short", "00" * 31, "zz" * 32):
        with pytest.raises(CryptKeyError):
            Crypt.parse(bad)


def test_rotation_decrypts_with_any_key_and_encrypts_with_the_first() -> None:
    old = Crypt.parse(KEY)
    assert old is not None
    token = old.encrypt("v")
    new_key = random.token_hex(32)
    rotated = Crypt.parse(f"{new_key};{KEY}")
    assert rotated is not None and rotated.decrypt(token) == "v"
    with pytest.raises(Unreadable):
        old.decrypt(rotated.encrypt("w"))  # the new key's: the old alone cannot
    with pytest.raises(Unreadable, match="PODIUM_CRYPT_KEY"):
        Crypt.parse(new_key).decrypt(token)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("url", "plain", "userinfo"),
    [
        ("https://alice:t0ken@h.org/r.git", "https://h.org/r.git", "alice:t0ken"),
        ("https://ghp_abc@h.org:8443/r", "https://h.org:8443/r", "ghp_abc"),
        ("HTTP://u:p%40ss@h.org/r", "http://h.org/r", "u:p%40ss"),
        ("https://h.org/r.git", "https://h.org/r.git", ""),
        ("ssh://git@h.org/r.git", "ssh://git@h.org/r.git", ""),  # a user, not a secret
        ("git@h.org:team/r.git", "git@h.org:team/r.git", ""),
    ],
)
def test_credentials_come_out_of_urls(url: str, plain: str, userinfo: str) -> None:
    assert split_credentials(url) == (plain, userinfo)


def test_a_lone_token_is_the_password() -> None:
    assert git_login("ghp_abc") == ("x-access-token", "ghp_abc")
    assert git_login("u:p%40ss") == ("u", "p@ss")


def test_values_are_encrypted_and_only_names_are_shown() -> None:
    d = create(secrets={"API_KEY": "sk-live-123", "DB_PASSWORD": "hunter2"}, env={"REGION": "x"})
    assert set(d.secrets) == {"API_KEY", "DB_PASSWORD"}
    assert "sk-live-123" not in repr(d.secrets)
    shown = d.as_json("/dashboards/")
    assert shown["secrets"] == ["API_KEY", "DB_PASSWORD"]
    assert "sk-live-123" not in everything_shown(d) and "hunter2" not in everything_shown(d)
    assert "secrets" not in d.public_json("/dashboards/")
    env, login = reveal(d.secrets, CRYPT)
    assert env == {"API_KEY": "sk-live-123", "DB_PASSWORD": "hunter2"} and login is None


def test_an_edit_sets_removes_and_keeps() -> None:
    d = create(secrets={"A": "1", "B": "2"})
    edited = parse_patch({"secrets": {"A": None, "C": "3"}}, d, RULES)
    assert reveal(edited.secrets, CRYPT)[0] == {"B": "2", "C": "3"}
    assert edited.secrets["B"] == d.secrets["B"]  # untouched: the same token
    assert rebuild_needed(d, edited)
    assert not rebuild_needed(d, parse_patch({"title": "T"}, d, RULES))


@pytest.mark.parametrize(
    ("secrets", "words"),
    [
        ({"1BAD": "x"}, "not a valid environment variable name"),
        ({"PODIUM_X": "x"}, "reserved"),
        ({"A": 1}, "must be text"),
        ({"A": "x" * 9000}, "too long"),
        ({f"V{i}": "x" for i in range(65)}, "at most 64"),
        ({"REGION": "x"}, "both a variable and a secret"),
    ],
)
def test_bad_secrets(secrets: dict[str, Any], words: str) -> None:
    with pytest.raises(Invalid, match=words) as refused:
        create(secrets=secrets, env={"REGION": "emea"})
    assert refused.value.field is not None and refused.value.field.startswith("secrets")


def test_without_a_key_secrets_are_refused_saying_why() -> None:
    no_key = Rules(frameworks=("streamlit",), git_schemes=("https",))
    doc = {"name": "s", "framework": "streamlit", "entry": "a.py"}
    with pytest.raises(Invalid, match="PODIUM_CRYPT_KEY") as refused:
        parse_create({**doc, "secrets": {"A": "1"}}, "alice", no_key)
    assert refused.value.field == "secrets"
    with pytest.raises(Invalid, match="encryption key") as refused:
        parse_create({**doc, "source": GIT_DOC}, "alice", no_key)
    assert refused.value.field == "source.url"


def test_git_credentials_leave_the_url_and_stay_with_its_host() -> None:
    d = create(source=GIT_DOC)
    assert d.source.url == "https://git.example.org/team/sales.git"
    shown = d.as_json("/dashboards/")
    assert shown["source"]["credentials"] is True and "t0ken" not in everything_shown(d)
    assert shown["secrets"] == []  # the login is git's, not the app's
    assert reveal(d.secrets, CRYPT) == ({}, ("alice", "t0ken"))
    # The form and the API send the URL back without them: kept.
    same = parse_patch({"source": {**GIT_DOC, "url": d.source.url, "ref": "v2"}}, d, RULES)
    assert same.secrets[GIT] == d.secrets[GIT]
    # Another host must never receive them.
    moved = parse_patch({"source": {"type": "git", "url": "https://evil.example/x"}}, d, RULES)
    assert GIT not in moved.secrets
    # Forgotten on request; to storage, dropped.
    forget = {"type": "git", "url": d.source.url, "credentials": False}
    assert GIT not in parse_patch({"source": forget}, d, RULES).secrets
    storage = parse_patch({"source": {"type": "storage"}}, d, RULES)
    assert GIT not in storage.secrets


def test_an_old_versions_url_credentials_are_kept_and_never_shown() -> None:
    """Stored by a version before secrets; no key yet (gateway.domain.upgrades moves them)."""
    no_key = Rules(frameworks=("streamlit",), git_schemes=("https",))
    old = Dashboard(owner="alice", name="s", framework="streamlit", entry="a.py")
    old = parse_patch({"source": {"type": "git", "url": "https://h.org/r.git"}}, old, no_key)
    from dataclasses import replace

    old = replace(old, source=replace(old.source, url="https://u:tok@h.org/r.git"))
    assert "tok" not in everything_shown(old)
    assert old.as_json("/")["source"] == {
        "type": "git", "url": "https://h.org/r.git", "ref": "", "path": "", "credentials": True,
    }  # fmt: skip
    resent = parse_patch({"source": old.as_json("/")["source"], "title": "T"}, old, no_key)
    assert resent.source.url == "https://u:tok@h.org/r.git"  # not lost by an edit
    with_key = parse_patch({"source": old.as_json("/")["source"]}, old, RULES)
    assert with_key.source.url == "https://h.org/r.git"
    assert reveal(with_key.secrets, CRYPT)[1] == ("u", "tok")


def test_the_launch_spec_is_where_they_are_decrypted() -> None:
    d = create(secrets={"API_KEY": "sk"}, env={"REGION": "x"}, source=GIT_DOC)
    spec = runner_spec(
        d, prefix="/dashboards/", source={}, port=1, credential="c", ready_timeout=1, crypt=CRYPT
    )
    assert spec["env"] == {"REGION": "x", "API_KEY": "sk"}
    source = git_source(d, "/tmp/x", ["https"], [], [], CRYPT)
    assert (source["username"], source["password"]) == ("alice", "t0ken")
    assert "t0ken" not in source["url"]
    from gateway.errors import LauncherError

    with pytest.raises(LauncherError, match="PODIUM_CRYPT_KEY"):
        runner_spec(d, prefix="/", source={}, port=1, credential="c", ready_timeout=1)
