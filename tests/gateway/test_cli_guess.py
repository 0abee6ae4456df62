"""What ``podium publish`` guesses from a file and makes of what is typed (pure functions)."""

from __future__ import annotations

import pytest

from podium_cli.guess import dashboard_name, guess_framework, imported_modules
from podium_cli.main import access

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("filename", "source", "framework"),
    [
        ("report.ipynb", "{}", "voila"),
        ("app.py", "import streamlit as st\nimport plotly\n", "streamlit"),
        ("app.py", "from dash import Dash, html\n", "dash"),
        ("app.py", "import gradio\n", "gradio"),
        ("app.py", "from shiny import App\n", "shiny"),
        ("app.py", "import panel as pn\nimport bokeh\n", "panel"),
        ("app.py", "from bokeh.plotting import figure\n", "bokeh"),
        ("app.py", "def f(:\nimport streamlit\n", "streamlit"),  # not parseable: the lines
        ("app.py", "import aiohttp\n", ""),
        ("app.R", None, ""),
    ],
)
def test_the_framework_is_guessed_from_the_file(
    filename: str, source: str | None, framework: str
) -> None:
    assert guess_framework(filename, source).framework == framework


def test_names_and_access_from_what_is_typed() -> None:
    assert dashboard_name("apps/sales/app.py") == "sales"
    assert dashboard_name("Q3 Report (final).ipynb") == "q3-report-final"
    assert dashboard_name("ünï.py") == "uni"
    assert dashboard_name("数据.py") == "dashboard"  # nothing left to name it by
    assert imported_modules("import a.b, c\nfrom d.e import f\nfrom . import g\n") == [
        "a",
        "c",
        "d",
    ]
    assert access([]) is None
    assert access(["all"]) == {"mode": "authenticated"}
    assert access(["bob,group:analysts", "carol"]) == {
        "mode": "restricted", "users": ["bob", "carol"], "groups": ["analysts"]
    }  # fmt: skip
