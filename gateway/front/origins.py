"""Where dashboards are served: each on an origin of its own, apart from the hub and the gateway.

A dashboard is its owner's code running in its viewers' browsers. On the hub's
origin its page script would be same-origin with everything the viewer is
signed in to (the hub, Podium's API); so the admin names a dashboard origin
(``c.Podium.dashboard_origin``):

- ``https://{dashboard}.example-dashboards.net``: one origin per dashboard
  (wildcard DNS and certificate); ``{dashboard}`` becomes :func:`dashboard_label`.
- ``https://example-dashboards.net``: one separate origin for every dashboard
  (no wildcard DNS needed): the hub and the gateway are safe, dashboards are not
  safe from each other.
- ``same-origin``: dashboards on the gateway's own origin, an explicit choice (a warning
  at every start).

The path stays the shareable link's (``/dashboards/<owner>/<name>/…``), so a
framework sees the same prefix on every origin; only the host changes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

PLACEHOLDER = "{dashboard}"
SAME_ORIGIN = "same-origin"
NO_DASHBOARD = "-"  # a host under the dashboards' domain that is no dashboard's (never a label)
MAX_LABEL = 63  # a DNS label
_SAFE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # no hyphen at an end, none doubled
_HASHED = 16  # hex digits of the hash in a label that is not simply name--owner


def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits, other runs as one hyphen (``ünï`` → ``uni``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@functools.lru_cache(maxsize=4096)  # the front door asks on every request to a dashboard host
def dashboard_label(owner: str, name: str) -> str:
    """The DNS label of a dashboard's own host: stable, unique, at most 63 characters.

    ``<name>--<owner>`` when both are plain (``sales--alice``); otherwise a readable
    part and a hash of both (``q3--jane-doe-example-org---<16 hex>``). The plain form
    has exactly one doubled hyphen and never three in a row, so it is never a hashed
    one, and splitting it at ``--`` gives back the only owner and name it can come from.
    """
    plain = f"{name}--{owner}"
    if _SAFE.match(name) and _SAFE.match(owner) and len(plain) <= MAX_LABEL:
        return plain
    digest = hashlib.sha256(f"{owner}/{name}".encode()).hexdigest()[:_HASHED]
    room = MAX_LABEL - len("---") - _HASHED - len("--")
    name_part = _slug(name)[: room // 2].strip("-") or "d"
    owner_part = _slug(owner)[: room - len(name_part)].strip("-") or "u"
    return f"{name_part}--{owner_part}---{digest}"


class OriginError(ValueError):
    """``c.Podium.dashboard_origin`` is not a usable origin template."""


@dataclass(frozen=True)
class Origins:
    """The dashboard origin template, parsed: which host is whose, and links to them."""

    scheme: str = ""
    host: str = ""  # with {dashboard} in front for one origin per dashboard; lower case

    @classmethod
    def parse(cls, template: str) -> Origins:
        if not template or template == SAME_ORIGIN:
            return cls()
        parts = urlsplit(template)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise OriginError(
                f"{template!r} is not an http(s) origin like https://{{dashboard}}.x.org"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
            raise OriginError(f"{template!r} must be an origin only: no path, query or user")
        host = parts.netloc.lower()
        if PLACEHOLDER in host and not (
            host.startswith(PLACEHOLDER + ".") and host.count(PLACEHOLDER) == 1
        ):
            raise OriginError(f"{PLACEHOLDER} must be the first label of the host in {template!r}")
        if "{" in host.replace(PLACEHOLDER, ""):
            raise OriginError(f"the only placeholder of {template!r} is {PLACEHOLDER}")
        return cls(parts.scheme, host)

    @property
    def isolated(self) -> bool:
        """Dashboards are served apart from the gateway's origin."""
        return bool(self.host)

    @property
    def per_dashboard(self) -> bool:
        """Each dashboard has an origin of its own (not only apart from the gateway)."""
        return self.host.startswith(PLACEHOLDER)

    def cookie(self, name: str) -> str:
        """The name of one of Podium's cookies on dashboard hosts: ``__Host-`` first where
        each dashboard has an https origin of its own, so that browsers refuse it from any
        other host (a sibling dashboard's ``Domain=`` cookie) and from plain http."""
        return f"__Host-{name}" if self.per_dashboard and self.scheme == "https" else name

    def origin(self, owner: str, name: str) -> str:
        """``scheme://host[:port]`` of a dashboard; ``""`` when not isolated."""
        if not self.isolated:
            return ""
        return f"{self.scheme}://{self.host.replace(PLACEHOLDER, dashboard_label(owner, name))}"

    def host_label(self, host: str) -> str | None:
        """For a request's ``Host``: ``""`` for the shared dashboard host, the label for a
        dashboard's own host, ``None`` for any other host (the gateway's). Every name under
        the dashboards' domain is a dashboard host: one that is no dashboard's label (a
        deeper name, ``x.sales--alice.…``) gets :data:`NO_DASHBOARD`, served nothing."""
        if not self.isolated:
            return None
        name, colon, port = host.lower().rpartition(":") if "]" not in host else (host, "", "")
        host = f"{name.rstrip('.')}:{port}" if colon and name else host.lower().rstrip(".")
        if not self.per_dashboard:
            return "" if host == self.host else None
        suffix = self.host[len(PLACEHOLDER) :]
        if not host.endswith(suffix):
            return None
        label = host[: -len(suffix)]
        return label if label and "." not in label and len(label) <= MAX_LABEL else NO_DASHBOARD

    def serves(self, host: str, owner: str, name: str) -> bool:
        """Whether the dashboard ``owner/name`` is served on ``host``."""
        label = self.host_label(host)
        if label is None:
            return False
        return label == "" or label == dashboard_label(owner, name)


def shares_the_hubs_domain(origins: Origins, public_url: str) -> str:
    """The domain dashboards share with the hub, if they do (``dashboards.example.org``
    beside ``hub.example.org``): a dashboard's script can set cookies for it, the hub's
    and Podium's among them. A heuristic (no Public Suffix List): the hub host's parent."""
    hub = (urlsplit(public_url).hostname or "").lower()
    dashboards = origins.host.split(":")[0].removeprefix(PLACEHOLDER + ".")
    if not origins.isolated or not hub or hub.replace(".", "").isdigit() or hub.count(".") < 2:
        return ""
    parent = hub.split(".", 1)[1]
    if dashboards == parent or dashboards.endswith("." + parent):
        return parent
    return ""
