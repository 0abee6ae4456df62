"""A user's storage names as kubespawner makes them, so runner pods find the claims and
folders Zero to JupyterHub gave each user.

kubespawner (7.x, what Z2JH runs) fills templates like ``claim-{user_server}`` and the
static sub-path ``{username}`` from the username through a *slug scheme*: ``safe`` (its
default) keeps a name that is already a valid DNS label and otherwise writes a readable
part, ``---`` and 8 hex digits of SHA-256; ``escape`` (kubespawner < 7) writes every
character outside ``[a-z0-9]`` as ``-`` and each of its UTF-8 bytes in hex. Podium's dashboards
use the owner's default server's storage, so the server name is empty. The rules below are
checked against kubespawner's own code in ``tests/kube/test_names.py``.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from typing import Literal

Scheme = Literal["safe", "escape"]
SCHEMES: tuple[Scheme, ...] = ("safe", "escape")

SLUG_MAX = 48  # kubespawner's budget for a name part of a template
HASH_DIGITS = 8
_LOWER_ALNUM = frozenset(string.ascii_lowercase + string.digits)
_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]|[a-z]")
_RUNS_OF_OTHERS = re.compile(r"[^a-z0-9]+")

FIELDS = frozenset({
    "username", "unescaped_username", "safe_username", "escaped_username",
    "servername", "unescaped_servername", "safe_servername", "escaped_servername",
    "user_server", "safe_user_server", "escaped_user_server", "hubnamespace",
})  # fmt: skip
_FIELD = re.compile(r"\{([^{}]*)\}")


def escaped(name: str) -> str:
    """The ``escape`` scheme: ``[a-z0-9]`` kept, anything else (upper case too) as ``-``
    and the hex of each of its UTF-8 bytes, in lower case and without a leading zero."""
    out = []
    for char in name:
        if char in _LOWER_ALNUM:
            out.append(char)
        else:
            out.extend(f"-{byte:x}" for byte in char.encode())  # unpadded, as escapism writes
    return "".join(out)


def _readable(name: str, room: int) -> str:
    """A DNS-safe part of ``name`` in ``room`` characters: lower case, runs of anything
    else as one ``-``, starting with a letter (``x-`` when it would not), never empty."""
    part = _RUNS_OF_OTHERS.sub("-", name.lower()).lstrip("-")[:room].rstrip("-")
    if part and not part[0].isalpha():
        part = "x-" + part[: room - 2]
    return part or "x"


def _hashed(name: str, length: int) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_DIGITS]
    return f"{_readable(name, length - HASH_DIGITS - 3)}---{digest}"


def safe(name: str, length: int = SLUG_MAX) -> str:
    """The ``safe`` scheme: ``name`` itself when it is a DNS label of at most ``length``
    characters without ``--``; else a readable part, ``---`` and a hash (no collisions)."""
    if "--" not in name and len(name) <= length and _DNS_LABEL.fullmatch(name):
        return name
    return _hashed(name, length)


def joined(names: list[str], length: int = SLUG_MAX) -> str:
    """Several names in one: readable parts joined by ``--``, then ``---`` and one hash of
    them all (kubespawner's form for a user and server that do not fit side by side)."""
    hasher = hashlib.sha256(names[0].encode())
    for name in names[1:]:
        hasher.update(b"\xff" + name.encode())  # never in UTF-8: no two lists hash alike
    room = (length - HASH_DIGITS - 1) // len(names) - 2
    return "--".join(_readable(n, room) for n in names) + "---" + hasher.hexdigest()[:HASH_DIGITS]


def fields(username: str, namespace: str = "") -> dict[str, str]:
    """Every template field kubespawner offers that Podium can know (not ``{userid}``),
    for ``username``'s default server."""
    safe_name, escaped_name = safe(username), escaped(username)
    # A user and server side by side ("{user}--{server}") must fit the slug's length.
    user_server = safe_name if len(safe_name) + 2 <= SLUG_MAX else joined([username, ""])
    return {
        "username": safe_name,
        "unescaped_username": username,
        "safe_username": safe_name,
        "escaped_username": escaped_name,
        "servername": "",
        "unescaped_servername": "",
        "safe_servername": "",
        "escaped_servername": "",
        "user_server": user_server,
        "safe_user_server": user_server,
        "escaped_user_server": f"{escaped_name}--",
        "hubnamespace": "user" if namespace in ("", "default") else namespace,
    }


def expand(template: str, username: str, scheme: Scheme = "safe", namespace: str = "") -> str:
    """``template`` filled for ``username`` as kubespawner fills it (a ``-`` the filling
    leaves at the end is dropped, one the template ends with kept)."""
    values: Mapping[str, str] = fields(username, namespace)
    if scheme == "escape":
        values = {**values, "username": values["escaped_username"],
                  "user_server": values["escaped_username"]}  # fmt: skip
    filled = template.format_map(values)
    return filled if template.endswith("-") else filled.rstrip("-")


def unknown_fields(template: str) -> list[str]:
    """The ``{fields}`` of ``template`` that Podium cannot fill (checked at start)."""
    return sorted({f for f in _FIELD.findall(template) if f not in FIELDS})
