"""Publishing a file, as the command line and JupyterLab's "Publish as dashboard" both do:
where it lives for Podium, which framework runs it, and saving it (a new dashboard started,
or the same name updated and restarted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podium_cli.client import ApiError, CliError, PodiumApi
from podium_cli.guess import MAX_READ, Guess, guess_framework


def storage_source(local: Path, root: Path) -> tuple[str, dict[str, Any]]:
    """The entry and the API's ``source`` for a file in the creator's storage (``root``,
    the folder Podium runs their files from)."""
    local, root = local.resolve(), root.resolve()
    if not local.is_file():
        raise CliError(f"{local}: no such file", code=2)
    if not local.is_relative_to(root):
        raise CliError(f"{local} is outside your storage ({root}), which Podium runs "
                       "files from: move it there", code=2)  # fmt: skip
    folder = local.parent.relative_to(root).as_posix()
    return local.name, {"type": "storage", "path": "" if folder == "." else folder}


def guess_file(entry: str, local: Path | None) -> Guess:
    """The framework of ``entry``, from its text when it is a readable file here."""
    text = None
    if local is not None and local.is_file() and local.stat().st_size < MAX_READ:
        text = local.read_text(errors="replace")
    return guess_framework(entry, text)


def current(podium: PodiumApi, path: str) -> dict[str, Any] | None:
    """The dashboard at ``path``, or None when there is none."""
    try:
        doc: dict[str, Any] = podium.api("GET", path)
    except CliError as e:
        if getattr(e, "status", 0) != 404:
            raise
        return None
    return doc


def save(
    podium: PodiumApi, path: str, name: str, body: dict[str, Any], other_file: bool = False
) -> str:
    """Create and start the dashboard, or update and (re)start it: "published" or
    "updated". A dashboard of another file is replaced only when ``other_file`` says so
    (a name given on purpose), never under a guessed name (the review: a new notebook
    replaced a shared app of the same name)."""
    if (now := current(podium, path)) is None:
        podium.api("POST", "dashboards", {"name": name, **body})
        podium.api("POST", path + "/start")
        return "published"
    if not other_file and (now.get("entry"), now.get("source")) != (body["entry"], body["source"]):
        where = "/".join(p for p in (now.get("source", {}).get("path"), now.get("entry")) if p)
        raise ApiError(409, f"{name} is already your dashboard of {where}: choose another name")
    podium.api("PATCH", path, body)
    podium.api(
        "POST", path + ("/restart" if now.get("status") in ("ready", "starting") else "/start")
    )
    return "updated"
