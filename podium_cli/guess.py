"""What a file is, guessed from the file itself: its framework and a dashboard name."""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

# The module a script imports, and the framework that runs it (first match wins: an app
# that imports streamlit and plotly is a Streamlit app).
FRAMEWORK_MODULES = (
    ("streamlit", "streamlit"),
    ("gradio", "gradio"),
    ("dash", "dash"),
    ("shiny", "shiny"),
    ("panel", "panel"),
    ("bokeh", "bokeh"),
)
NOTEBOOK = "voila"
# A file called app.py says little: its folder names the dashboard instead.
GENERIC_STEMS = {"app", "main", "index", "dashboard", "streamlit_app", "server", "run"}
MAX_NAME = 63
MAX_READ = 2_000_000


@dataclass(frozen=True)
class Guess:
    framework: str  # "" when nothing was recognised
    why: str  # what it was guessed from, for the creator


def imported_modules(source: str) -> list[str]:
    """The top-level modules a script imports, in order (``import a.b`` gives ``a``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        # Not Python we can parse (a newer syntax, a fragment): the plain import lines.
        found = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", source, re.MULTILINE)
        return list(dict.fromkeys(found))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module.split(".")[0])
    return list(dict.fromkeys(names))


def guess_framework(filename: str, source: str | None) -> Guess:
    """A notebook is Voilà's; a script is the framework it imports. ``source`` is the
    file's text when it can be read (``None``: guess from the name alone)."""
    suffix = PurePosixPath(filename).suffix.lower()
    if suffix == ".ipynb":
        return Guess(NOTEBOOK, "a notebook")
    if suffix != ".py" or source is None:
        return Guess("", f"not a notebook or a Python script ({suffix or 'no suffix'})")
    modules = set(imported_modules(source))
    for module, framework in FRAMEWORK_MODULES:
        if module in modules:
            return Guess(framework, f"it imports {module}")
    return Guess("", "it imports none of " + ", ".join(m for m, _ in FRAMEWORK_MODULES))


def dashboard_name(path: str) -> str:
    """A name for the dashboard from its file (``sales/app.py`` → ``sales``,
    ``Q3 Report.ipynb`` → ``q3-report``, ``Über.py`` → ``uber``): lowercase letters,
    digits and dashes."""
    pure = PurePosixPath(path)
    stem = pure.stem
    if stem.lower() in GENERIC_STEMS and pure.parent.name:
        stem = pure.parent.name
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # ü → u
    name = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:MAX_NAME].strip("-")
    return name or "dashboard"
