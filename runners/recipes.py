"""Framework recipes as data: how each framework is started behind a URL prefix.

A recipe is a command template plus what the guard must know about the
framework: where its readiness probe is, which paths carry WebSockets, and
whether it wants the public prefix removed from request paths (frameworks
built on ASGI mounts route at ``/`` and take the public prefix as a
``root_path`` instead). Placeholders in templates:

    {python}       the runner's Python interpreter
    {host}         the loopback address the framework must listen on
    {port}         the framework's internal port
    {prefix}       the public URL prefix, with both slashes: /dashboards/alice/demo/
    {prefix_path}  the same without the trailing slash: /dashboards/alice/demo
    {prefix_path_decoded}
                   the same with its escapes decoded (/dashboards/o'neil/demo for the
                   public /dashboards/o%27neil/demo/, see runners.names): for frameworks
                   that match routes against the decoded path (Starlette: Streamlit)
    {entry}        the entry file, relative to the working folder
    {entry_stem}   the entry's name without its extension (Bokeh/Panel app name)

Only these exact placeholders are replaced, so braces elsewhere in a custom
command (JSON arguments, say) pass through untouched.

Why origin checks are opened for Bokeh and Panel: the guard forwards the
public ``Host`` and ``Origin`` unchanged, and the gateway checks ``Origin``
against the public URL before any WebSocket reaches a runner; Bokeh compares
against a fixed allow-list that cannot know the public host in advance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from urllib.parse import unquote


@dataclass(frozen=True)
class CustomCommand:
    """The ``custom`` framework: a command template and how to reach it."""

    command: tuple[str, ...]
    strip_prefix: bool = False
    ready_path: str = ""


@dataclass(frozen=True)
class Recipe:
    name: str
    command: tuple[str, ...]
    ready_path: str
    env: Mapping[str, str] = field(default_factory=dict)
    strip_prefix: bool = False
    entry_suffixes: tuple[str, ...] = (".py",)
    # Paths under the prefix that the framework serves elsewhere (its own prefix bugs).
    rewrites: Mapping[str, str] = field(default_factory=dict)
    # Added in a sandbox, where the framework may listen on its one port only.
    sandboxed_args: tuple[str, ...] = ()
    label: str = ""  # as people read it (the pages)
    needs: tuple[str, ...] = ()  # modules the app's environment must have


_BOKEH_FLAGS = (
    "--port",
    "{port}",
    "--address",
    "{host}",
    "--prefix",
    "{prefix_path}",
    "--allow-websocket-origin",
    "*",
    "--num-procs",
    "1",
)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="voila",
            needs=("voila",),
            label="Voilà",
            command=(
                "{python}",
                "-m",
                "voila",
                "--no-browser",
                "--port={port}",
                "--Voila.ip={host}",
                "--Voila.base_url={prefix}",
                "--Voila.port_retries=0",
                "{entry}",
            ),
            ready_path="voila/static/voila.js",
            entry_suffixes=(".ipynb",),
            # Kernels over abstract Unix sockets, not 5 TCP ports each (runners/shims).
            sandboxed_args=(
                "--MultiKernelManager.kernel_manager_class=runners.shims.ipc_kernels.KernelManager",
            ),
        ),
        Recipe(
            name="streamlit",
            needs=("streamlit",),
            label="Streamlit",
            command=(
                "{python}",
                "-m",
                "streamlit",
                "run",
                "{entry}",
                "--server.port={port}",
                "--server.address={host}",
                "--server.baseUrlPath={prefix_path_decoded}",
                "--server.headless=true",
                "--server.fileWatcherType=none",
                "--browser.gatherUsageStats=false",
            ),
            ready_path="_stcore/health",
        ),
        Recipe(
            name="panel",
            needs=("panel",),
            label="Panel",
            command=("{python}", "-m", "panel", "serve", "{entry}", *_BOKEH_FLAGS, "--liveness"),
            ready_path="liveness",
            # Panel links ./favicon.ico but serves it at /favicon.ico whatever the prefix.
            rewrites={"favicon.ico": "/favicon.ico"},
            entry_suffixes=(".py", ".ipynb"),
        ),
        Recipe(
            name="bokeh",
            needs=("bokeh",),
            label="Bokeh",
            command=("{python}", "-m", "bokeh", "serve", "{entry}", *_BOKEH_FLAGS),
            # Bokeh has no liveness endpoint; its app page runs the app, a real probe.
            ready_path="{entry_stem}",
            entry_suffixes=(".py", ".ipynb"),
        ),
        Recipe(
            name="dash",
            needs=("dash", "waitress"),
            label="Dash",
            command=("{python}", "-m", "runners.shims.dash_app", "{entry}"),
            ready_path="_dash-layout",
            env={"DASH_URL_BASE_PATHNAME": "{prefix}"},  # the shim splits it for Flask
        ),
        Recipe(
            name="gradio",
            needs=("gradio",),
            label="Gradio",
            command=("{python}", "-m", "runners.shims.gradio_app", "{entry}"),
            ready_path="config",
            strip_prefix=True,
            env={"GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SSR_MODE": "False"},
        ),
        Recipe(
            name="shiny",
            needs=("shiny",),
            label="Shiny",
            command=(
                "{python}",
                "-m",
                "shiny",
                "run",
                "--host",
                "{host}",
                "--port",
                "{port}",
                "--no-dev-mode",
                "{entry}",
            ),
            ready_path="",
            strip_prefix=True,
        ),
        Recipe(name="custom", command=(), ready_path="", entry_suffixes=(), label="Custom command"),
    )
}
# The one list of frameworks (the gateway's choices, labels and file picker derive from it).
BUILT_IN = tuple(name for name in RECIPES if name != "custom")
RUNNABLE_SUFFIXES = tuple(sorted({s for r in RECIPES.values() for s in r.entry_suffixes}))

# Environment every framework gets, so that its logs reach the launcher as they happen.
BASE_ENV = {"PYTHONUNBUFFERED": "1"}


def recipe_for(framework: str, custom: CustomCommand | None) -> Recipe:
    recipe = RECIPES[framework]
    if framework == "custom" and custom is not None:
        recipe = replace(
            recipe,
            command=custom.command,
            ready_path=custom.ready_path,
            strip_prefix=custom.strip_prefix,
        )
    return recipe


def expand(template: str, values: Mapping[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def placeholders(*, python: str, host: str, port: int, prefix: str, entry: str) -> dict[str, str]:
    return {
        "python": python,
        "host": host,
        "port": str(port),
        "prefix": prefix,
        "prefix_path": prefix.rstrip("/"),
        "prefix_path_decoded": unquote(prefix.rstrip("/")),
        "entry": entry,
        "entry_stem": PurePosixPath(entry).stem if entry else "",
    }


@dataclass(frozen=True)
class Plan:
    """A recipe made concrete for one launch."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    ready_path: str
    strip_prefix: bool
    rewrites: Mapping[str, str]


def plan(
    recipe: Recipe,
    values: Mapping[str, str],
    user_env: Mapping[str, str],
    sandboxed: bool = False,
) -> Plan:
    """Build the command, environment and probe for one launch (pure)."""
    env = {**user_env, **BASE_ENV, **{k: expand(v, values) for k, v in recipe.env.items()}}
    env.update(
        PODIUM_PREFIX=values["prefix"], PODIUM_PORT=values["port"], PODIUM_HOST=values["host"]
    )
    return Plan(
        argv=tuple(
            expand(part, values)
            for part in (*recipe.command, *(recipe.sandboxed_args if sandboxed else ()))
        ),
        env=env,
        ready_path=expand(recipe.ready_path, values),
        strip_prefix=recipe.strip_prefix,
        rewrites={values["prefix"] + k: v for k, v in recipe.rewrites.items()},
    )
