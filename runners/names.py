"""How a hub user's name becomes a URL segment and a folder: one rule for gateway and runner.

JupyterHub accepts any non-empty name without ``/`` and without leading or trailing
spaces (``Authenticator.validate_username``), lower-cased: names hold ``.``, ``@``,
``+``, ``'``, non-ASCII letters, or only digits (e-mail names come with OAuthenticator).

- **URL segment**: the name escaped as JupyterHub escapes it in its own ``/user/<name>/``
  URLs (``jupyterhub.utils.url_escape_path``: ``quote(name, safe="@~")``), so an e-mail
  name stays readable: ``jane.doe@example.org``, ``o%27neil``, ``%C3%BCn%C3%AF``. That is
  the canonical spelling: every link the gateway builds, and the prefix a runner is given.
  Any other spelling of the same name that a client may send (``o'neil`` raw,
  ``jane.doe%40example.org``) decodes to the same owner.
- **Folder**: the name itself (a system user's home is named so), never escaped.
- ``.`` and ``..`` (valid to JupyterHub before 6.1) climb a path: they never become a
  segment or a folder; nor does ``_`` (the gateway's own ``<prefix>_/`` pages) or a name
  holding NUL (no file name can).

The gateway imports this module; it imports nothing of the gateway's.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

SEGMENT_SAFE = "@~"  # besides letters, digits and "_.-", which quote() never escapes
# What owner_segment() produces: unreserved characters, "@", upper-case escapes.
_CANONICAL = re.compile(r"^(?:[A-Za-z0-9._~@-]|%[0-9A-F]{2})+$")
# Any spelling a client may send: RFC 3986 path characters, escapes in either case, and
# raw non-ASCII (an IRI, as a client that does not escape sends it).
_ANY_SPELLING = re.compile(r"^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|[^\x00-\x7f]|%[0-9A-Fa-f]{2})+$")


class UnusableName(ValueError):
    """A name, or a URL segment, that cannot stand for a dashboard's owner."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an owner's URL segment or folder; None when it can."""
    if not name:
        return "an empty name"
    if name in (".", ".."):
        return f"the name {name!r} would climb out of its folder in a path or URL"
    if name == "_":
        return "the name '_' (the gateway's own pages live at <prefix>_/)"
    if "/" in name:
        return "a name holding '/'"
    if "\x00" in name:
        return "a name holding a NUL character"
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return "a name that is not Unicode text (a lone surrogate)"
    return None


def _checked(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise UnusableName(f"{problem} cannot name a dashboard's owner")
    return name


def owner_segment(name: str) -> str:
    """The owner's URL segment, as JupyterHub spells its own user URLs."""
    return quote(_checked(name), safe=SEGMENT_SAFE)


def owner_from_segment(segment: str) -> str:
    """The owner a URL segment names, however the client spelt it (raw or escaped)."""
    if not _ANY_SPELLING.match(segment):
        raise UnusableName(f"{segment!r} is not a URL path segment (or has a malformed escape)")
    try:
        name = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise UnusableName(f"{segment!r} does not decode to UTF-8 text") from None
    return _checked(name)


def is_canonical(segment: str) -> bool:
    """Whether ``segment`` is spelt exactly as :func:`owner_segment` spells its name; also
    what a runner accepts as each segment of its prefix (the gateway's prefix, the owner,
    the dashboard's name)."""
    if not _CANONICAL.match(segment):
        return False
    try:
        return owner_segment(owner_from_segment(segment)) == segment
    except UnusableName:
        return False


def folder_name(name: str) -> str:
    """The owner's name as one folder name (``{username}`` of a storage path, the runner's
    state folder): the name itself, refused when it would climb or cannot be a file name."""
    return _checked(name)
