"""Check what a creator sends before anything is stored: every mistake is an :class:`Invalid`.

Pure functions of the request body and the admin's :class:`Rules`. Path and
git URL rules are the runner's own (``runners.spec``, ``runners.git``), so the
gateway refuses at the edge exactly what a runner would refuse later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.domain.dashboards import ACCESS_MODES, Access, Dashboard, Source, now
from gateway.domain.secrets import GIT, Crypt, merge, split_credentials, with_login
from gateway.domain.secrets import names as secret_names
from gateway.errors import Invalid
from runners.errors import SpecError
from runners.git import check_git_url, check_literal_host, check_ref, url_host
from runners.recipes import BUILT_IN
from runners.spec import relative_path

NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_ENV_PREFIXES = ("PODIUM_", "JUPYTERHUB_", "JPY_")
EDITABLE = {
    "title",
    "description",
    "framework",
    "source",
    "entry",
    "access",
    "env",
    "secrets",
    "idle_timeout",
    "command",
    "profile",
    "environment",
}
READ_ONLY = {"owner", "url", "status", "message", "created", "updated"}
MAX_ENV = 64
MAX_ACCESS_LIST = 500


@dataclass(frozen=True)
class Rules:
    """What the admin allows; built from the gateway's configuration."""

    frameworks: tuple[str, ...] = BUILT_IN
    public_enabled: bool = False
    idle_default: int = 1800
    idle_min: int = 300
    idle_max: int = 86400
    git_schemes: tuple[str, ...] = ("https", "ssh")
    git_hosts: tuple[str, ...] = ()
    git_internal: tuple[str, ...] = ()  # hosts that may be internal addresses
    profiles: tuple[str, ...] = ()  # names of the launcher's resource profiles, if any
    shared_volumes: tuple[str, ...] = ()  # names of volumes shared with every user
    environments: tuple[str, ...] = ()  # names of the Python environments offered
    crypt: Crypt | None = None  # encrypts secrets; None: this hub takes none


def _object(payload: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise Invalid(f"{what} must be a JSON object")
    return payload


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text", field=field)
    if len(value) > limit:
        raise Invalid(f"{field} is too long (at most {limit} characters)", field=field)
    return value


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise Invalid(
            "the name must be 1 to 63 lowercase letters, digits or dashes, starting and ending "
            "with a letter or digit (it becomes part of the URL)",
            field="name",
        )
    return value


def _path(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text", field=field)
    try:
        return relative_path(value, field)
    except SpecError as e:
        raise Invalid(e.message, field=field) from None


def check_source(value: Any, rules: Rules) -> Source:
    doc = _object(value, "source")
    kind = doc.get("type", "storage")
    if kind == "storage":
        _only(doc, {"type", "path", "volume"}, "source")
        volume = doc.get("volume", "")
        if volume != "" and volume not in rules.shared_volumes:
            offered = ", ".join(rules.shared_volumes) or "none (this hub shares no volumes)"
            raise Invalid(
                f"source.volume must be one of the shared volumes: {offered}; "
                "leave it out for your own storage",
                field="source.volume",
            )
        path = _path(doc.get("path", ""), "source.path")
        return Source(type="storage", path=path, volume=volume)
    if kind == "git":
        _only(doc, {"type", "url", "ref", "path", "credentials"}, "source")
        if not isinstance(doc.get("credentials", True), bool):
            raise Invalid("source.credentials must be true or false", field="source.credentials")
        url = _text(doc.get("url", ""), "source.url", 2048)
        ref = _text(doc.get("ref", ""), "source.ref", 255)
        try:
            check_git_url(url, rules.git_schemes, rules.git_hosts)
            check_literal_host(url_host(url), rules.git_internal)
        except SpecError as e:
            raise Invalid(e.message, field="source.url") from None
        try:
            check_ref(ref)
        except SpecError as e:
            raise Invalid(e.message, field="source.ref") from None
        return Source(type="git", url=url, ref=ref, path=_path(doc.get("path", ""), "source.path"))
    raise Invalid("source.type must be 'storage' or 'git'", field="source.type")


def _names(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Invalid(f"{field} must be a list of names", field=field)
    if len(value) > MAX_ACCESS_LIST:
        raise Invalid(f"{field} may name at most {MAX_ACCESS_LIST} entries", field=field)
    return tuple(dict.fromkeys(value))


def check_access(value: Any, rules: Rules) -> Access:
    doc = _object(value, "access")
    _only(doc, {"mode", "users", "groups"}, "access")
    mode = doc.get("mode", "private")
    if mode not in ACCESS_MODES:
        raise Invalid(f"access.mode must be one of {', '.join(ACCESS_MODES)}", field="access.mode")
    if mode == "public" and not rules.public_enabled:
        raise Invalid(
            "public dashboards are not enabled on this hub; "
            "ask an admin, or choose 'authenticated'",
            field="access.mode",
        )
    return Access(
        mode=mode,
        users=_names(doc.get("users", []), "access.users"),
        groups=_names(doc.get("groups", []), "access.groups"),
    )


def _variables(value: Any, field: str, nullable: bool) -> dict[str, Any]:
    """Environment variables by name (``env``, ``secrets``): names the app can be given,
    text values (or null, to remove, where ``nullable``)."""
    doc = _object(value, field)
    if len(doc) > MAX_ENV:
        raise Invalid(f"{field} may hold at most {MAX_ENV} variables", field=field)
    for key, val in doc.items():
        if not ENV_NAME.match(key):
            raise Invalid(f"{key!r} is not a valid environment variable name", field=field)
        if key.upper().startswith(RESERVED_ENV_PREFIXES):
            raise Invalid(
                f"{key}: names starting with PODIUM_ or JUPYTERHUB_ are reserved", field=field
            )
        if val is not None or not nullable:
            _text(val, f"{field}.{key}", 8192)
    return dict(doc)


def check_env(value: Any) -> dict[str, str]:
    return _variables(value, "env", nullable=False)


def check_secrets(value: Any) -> dict[str, str | None]:
    """Changes to a dashboard's secrets: a value sets one, null removes it."""
    return _variables(value, "secrets", nullable=True)


def _secrets(
    doc: Mapping[str, Any], current: Dashboard, result: Dashboard, crypt: Crypt | None
) -> Dashboard:
    """``result`` with its secrets: the changes asked for, and a git URL's credentials
    taken out of it (kept while the host stays; dropped with ``credentials: false`` or
    another host, which must never receive them)."""
    changes: dict[str, str | None] = dict(check_secrets(doc["secrets"])) if "secrets" in doc else {}
    if "source" in doc:
        url, userinfo = split_credentials(result.source.url)
        old_url, old_userinfo = split_credentials(current.source.url)  # an old version's
        keep = doc["source"].get("credentials", True)
        same_host = result.source.type == "git" and url_host(url) == url_host(old_url)
        if not userinfo and old_userinfo and same_host and keep:
            userinfo = old_userinfo  # shown without them, sent back without them: kept
        if userinfo and crypt is None and userinfo == old_userinfo:
            # No key yet: left where an old version kept them, until gateway.domain.upgrades can.
            result = replace(result, source=replace(result.source, url=with_login(url, userinfo)))
        elif userinfo:
            changes[GIT] = userinfo
            result = replace(result, source=replace(result.source, url=url))
        elif GIT in current.secrets and not (same_host and keep):
            changes[GIT] = None
    secrets = merge(current.secrets, changes, crypt) if changes else current.secrets
    both = sorted(set(secret_names(secrets)) & set(result.env))
    if both:
        raise Invalid(f"{both[0]} is both a variable and a secret: keep one", field="secrets")
    if len(secrets) > MAX_ENV + 1:
        raise Invalid(f"secrets may hold at most {MAX_ENV} values", field="secrets")
    return replace(result, secrets=secrets)


def check_idle(value: Any, rules: Rules, admin: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("idle_timeout must be a whole number of seconds", field="idle_timeout")
    if value == 0 and admin:
        return 0  # always on: admins only
    if not rules.idle_min <= value <= rules.idle_max:
        raise Invalid(
            f"idle_timeout must be between {rules.idle_min} and {rules.idle_max} seconds",
            field="idle_timeout",
        )
    return value


def one_of(value: Any, offered: tuple[str, ...], field: str, none: str) -> str:
    """One of the admin's names (a profile, an environment), or ``""`` for the default."""
    if value == "":
        return ""
    if not isinstance(value, str) or value not in offered:
        raise Invalid(f"{field} must be one of: {', '.join(offered) or none}", field=field)
    return value


def _only(doc: Mapping[str, Any], allowed: set[str], what: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise Invalid(f"{what}: unknown field(s) {', '.join(extra)}", field=f"{what}.{extra[0]}")


def check_framework(value: Any, rules: Rules) -> str:
    if value not in rules.frameworks:
        raise Invalid(f"framework must be one of {', '.join(rules.frameworks)}", field="framework")
    return str(value)


# One check per editable field: (value, rules, admin) -> the stored value, or Invalid.
CHECKS: dict[str, Callable[[Any, Rules, bool], Any]] = {
    "title": lambda v, p, a: _text(v, "title", 200),
    "description": lambda v, p, a: _text(v, "description", 4000),
    "framework": lambda v, p, a: check_framework(v, p),
    "source": lambda v, p, a: check_source(v, p),
    "entry": lambda v, p, a: _path(v, "entry"),
    "access": lambda v, p, a: check_access(v, p),
    "env": lambda v, p, a: check_env(v),
    "secrets": lambda v, p, a: check_secrets(v),  # merged and encrypted by _secrets
    "idle_timeout": check_idle,
    "command": lambda v, p, a: check_command(v),
    "profile": lambda v, p, a: one_of(v, p.profiles, "profile", "none (this hub has no profiles)"),
    "environment": lambda v, p, a: one_of(
        v, p.environments, "environment", "none (this hub offers one environment)"
    ),
}


def _fields(doc: Mapping[str, Any], current: Dashboard, rules: Rules, admin: bool) -> Dashboard:
    changes = {
        key: check(doc[key], rules, admin)
        for key, check in CHECKS.items()
        if key in doc and key != "secrets"
    }
    result = _secrets(doc, current, replace(current, **changes), rules.crypt)
    if result.framework == "custom":
        if not result.command:
            raise Invalid(
                "a custom dashboard needs a command, e.g. "
                '["python", "app.py", "--port", "{port}", "--base-url", "{prefix}"]',
                field="command",
            )
    elif result.command:
        raise Invalid("command is only for the framework 'custom'", field="command")
    elif not result.entry:
        raise Invalid("entry names the notebook or script to run", field="entry")
    return result


def check_command(value: Any) -> tuple[str, ...]:
    """A custom command template: a list of arguments; placeholders as in docs/runner.md."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("command must be a list of arguments (strings)", field="command")
    if len(value) > 64 or any(len(v) > 1024 or "\x00" in v for v in value):
        raise Invalid("command is too long", field="command")
    return tuple(value)


def parse_create(payload: Any, owner: str, rules: Rules, *, admin: bool = False) -> Dashboard:
    doc = _object(payload, "the request body")
    read_only = sorted(READ_ONLY & set(doc))
    if read_only:
        raise Invalid(f"{', '.join(read_only)} cannot be set", field=read_only[0])
    _only(doc, EDITABLE | {"name"}, "dashboard")
    if "framework" not in doc:
        raise Invalid("framework is required", field="framework")
    name = check_name(doc.get("name"))
    blank = Dashboard(owner=owner, name=name, framework="", idle_timeout=rules.idle_default)
    created = _fields(doc, blank, rules, admin)
    return replace(created, title=created.title or name)


def parse_patch(
    payload: Any, current: Dashboard, rules: Rules, *, admin: bool = False
) -> Dashboard:
    doc = _object(payload, "the request body")
    if "name" in doc and doc["name"] != current.name:
        raise Invalid("a dashboard cannot be renamed: its URL is shared", field="name")
    read_only = sorted(READ_ONLY & set(doc))
    if read_only:
        raise Invalid(f"{', '.join(read_only)} cannot be changed", field=read_only[0])
    _only(doc, EDITABLE | {"name"}, "dashboard")
    return replace(_fields(doc, current, rules, admin), updated=now())


def rebuild_needed(before: Dashboard, after: Dashboard) -> bool:
    """Whether an edit changes what runs (and so needs a restart of a running dashboard)."""

    def running(d: Dashboard) -> tuple[object, ...]:
        return (d.framework, d.source, d.entry, d.env, d.secrets, d.command, d.profile,
                d.environment)  # fmt: skip

    return running(before) != running(after)


def problems(
    payload: Mapping[str, Any],
    owner: str,
    rules: Rules,
    *,
    admin: bool = False,
    current: Dashboard | None = None,
) -> dict[str, str]:
    """Every mistake at once, by field (the web form shows each next to its field); the
    API's parse functions stop at the first. Empty when ``payload`` would be accepted."""
    found: dict[str, str] = {}
    if current is None:
        try:
            check_name(payload.get("name"))
        except Invalid as e:
            found["name"] = e.message
    for key, check in CHECKS.items():
        if key in payload:
            try:
                check(payload[key], rules, admin)
            except Invalid as e:
                found.setdefault(e.field or key, e.message)
    if not found:
        try:
            if current is None:
                parse_create(payload, owner, rules, admin=admin)
            else:
                parse_patch(payload, current, rules, admin=admin)
        except Invalid as e:
            found[e.field or "form"] = e.message
    return found
