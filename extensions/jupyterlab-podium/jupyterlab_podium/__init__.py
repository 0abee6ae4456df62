"""JupyterLab's "Publish as dashboard": a command in the file browser and the notebook and
editor toolbars (the prebuilt labextension) and its server side (jupyterlab_podium.handlers),
which calls Podium with this server's own token."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyterlab-podium"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyterlab_podium"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from jupyterlab_podium.handlers import setup_handlers

    setup_handlers(server_app.web_app, server_app.log)
    server_app.log.info("jupyterlab_podium: Publish as dashboard is on")
