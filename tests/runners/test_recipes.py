"""Framework recipes are data: every one expands to a complete command."""

from __future__ import annotations

import re

import pytest

from runners.recipes import RECIPES, CustomCommand, expand, placeholders, plan, recipe_for

pytestmark = pytest.mark.unit

VALUES = placeholders(
    python="/py", host="127.0.0.1", port=5000, prefix="/dashboards/alice/demo/", entry="app.py"
)


@pytest.mark.parametrize("name", sorted(set(RECIPES) - {"custom"}))
def test_every_placeholder_is_filled(name: str) -> None:
    p = plan(RECIPES[name], VALUES, {})
    rendered = " ".join(p.argv) + " " + " ".join(p.env.values()) + p.ready_path
    assert not re.search(r"\{[a-z_]+\}", rendered), rendered
    assert p.argv[0] == "/py"
    assert p.env["PYTHONUNBUFFERED"] == "1"
    assert p.env["PODIUM_PREFIX"] == "/dashboards/alice/demo/"
    assert "5000" in " ".join(p.argv) or p.env["PODIUM_PORT"] == "5000"


def test_frameworks_listen_on_loopback_only() -> None:
    for name, recipe in RECIPES.items():
        rendered = " ".join(plan(recipe, VALUES, {}).argv)
        assert "0.0.0.0" not in rendered, name


def test_streamlit_gets_the_full_prefix() -> None:
    argv = plan(RECIPES["streamlit"], VALUES, {}).argv
    assert "--server.baseUrlPath=/dashboards/alice/demo" in argv
    assert "--server.address=127.0.0.1" in argv


def test_custom_command_and_unknown_braces() -> None:
    custom = CustomCommand(
        command=("srv", "--port={port}", '{"json": true}', "{prefix}"), strip_prefix=True
    )
    p = plan(recipe_for("custom", custom), VALUES, {"MINE": "1"})
    assert p.argv == ("srv", "--port=5000", '{"json": true}', "/dashboards/alice/demo/")
    assert p.strip_prefix and p.env["MINE"] == "1"


def test_owner_environment_cannot_override_the_runners() -> None:
    p = plan(RECIPES["dash"], VALUES, {"DASH_URL_BASE_PATHNAME": "/elsewhere/", "PODIUM_PORT": "1"})
    assert p.env["DASH_URL_BASE_PATHNAME"] == "/dashboards/alice/demo/"
    assert p.env["PODIUM_PORT"] == "5000"


def test_expand_only_known_names() -> None:
    assert expand("{port}-{nope}", {"port": "1"}) == "1-{nope}"


def test_panel_favicon_rewrite() -> None:
    p = plan(RECIPES["panel"], VALUES, {})
    assert p.rewrites == {"/dashboards/alice/demo/favicon.ico": "/favicon.ico"}


def test_frameworks_that_route_decoded_paths_get_the_decoded_prefix() -> None:
    """Streamlit (Starlette) matches routes against the decoded path: it is given
    /dashboards/o'neil/demo for the public /dashboards/o%27neil/demo/ (its page links
    relatively, so the browser keeps the public spelling). Dash's shim splits the prefix
    the same way (tests/runners/test_frameworks.py runs it)."""
    values = placeholders(
        python="/py", host="127.0.0.1", port=5000, prefix="/dashboards/o%27neil/demo/", entry="a.py"
    )
    assert (
        "--server.baseUrlPath=/dashboards/o'neil/demo"
        in plan(RECIPES["streamlit"], values, {}).argv
    )
    voila = plan(RECIPES["voila"], values, {}).argv
    assert "--Voila.base_url=/dashboards/o%27neil/demo/" in voila  # Tornado routes raw paths
