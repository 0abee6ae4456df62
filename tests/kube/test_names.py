"""Storage names as kubespawner makes them: Podium's expansion of the same templates,
checked against kubespawner's own code (the package Zero to JupyterHub runs) for the
usernames JupyterHub allows, in both of its slug schemes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubespawner import KubeSpawner

from gateway.launchers.kube.names import expand, unknown_fields

pytestmark = pytest.mark.unit

USERNAMES = [
    "alice", "jane.doe@example.org", "o'neil", "ünï", "a+b", "x_y-z", "12345", "Alice",
    "a--b", "carol@example.org", "-dash", "x" * 70, "名前", "a b", "z" * 48, "y" * 49,
]  # fmt: skip
TEMPLATES = [
    "claim-{user_server}", "claim-{username}", "{username}", "home/{username}",
    "claim-{escaped_username}", "{unescaped_username}", "claim-{username}{servername}",
    "claim-{username}-{servername}", "users/{safe_username}/", "{hubnamespace}-{username}",
    "claim-{escaped_user_server}", "{user_server}-",
]  # fmt: skip


def kubespawner_says(template: str, username: str, scheme: str) -> str:
    """kubespawner's own expansion, for ``username``'s default server (its function, called
    on what it reads of a spawner: constructing one wants a cluster's configuration)."""
    spawner = SimpleNamespace(
        name="", user=SimpleNamespace(name=username, id=7), slug_scheme=scheme,
        _namespace_default=lambda: "default",
    )  # fmt: skip
    return str(KubeSpawner._expand_user_properties(spawner, template))


@pytest.mark.parametrize("scheme", ["safe", "escape"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_same_names_as_kubespawner(template: str, scheme: str) -> None:
    for username in USERNAMES:
        assert expand(template, username, scheme) == kubespawner_says(template, username, scheme), (  # type: ignore[arg-type]
            username
        )


@given(st.text(min_size=1, max_size=80))
def test_any_username_as_kubespawner_names_it(username: str) -> None:
    for scheme in ("safe", "escape"):
        for template in ("claim-{user_server}", "{username}"):
            assert expand(template, username, scheme) == kubespawner_says(
                template, username, scheme
            )  # type: ignore[arg-type]


def test_what_podium_cannot_fill_is_named() -> None:
    assert unknown_fields("claim-{username}-{userid}") == ["userid"]
    assert unknown_fields("claim-{user_server}") == []


def test_the_docs_examples_are_what_kubespawner_makes() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md").read_text()
    for scheme in ("safe", "escape"):
        assert (
            f"`{kubespawner_says('claim-{user_server}', 'jane.doe@example.org', scheme)}`" in docs
        )
