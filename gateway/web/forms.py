"""The create/edit form: its fields to the API's dashboard document and back.

Pure functions. The form speaks in people's terms (minutes, one ``NAME=value``
per line, a folder and a file); the API document is what ``gateway.domain.validation``
checks, so the form and the API accept exactly the same dashboards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from multidict import MultiMapping

from gateway.domain.dashboards import Dashboard
from gateway.domain.secrets import GIT, split_credentials
from gateway.domain.secrets import names as secret_names
from gateway.domain.validation import Rules

LABELS = {
    "name": "Name",
    "title": "Title",
    "description": "Description",
    "framework": "Framework",
    "command": "Command",
    "source_path": "Folder",
    "source_volume": "Storage",
    "git_url": "Repository URL",
    "git_ref": "Branch, tag or commit",
    "git_path": "Folder in the repository",
    "entry": "Notebook or script",
    "access_mode": "Who can view it",
    "access_users": "People",
    "access_groups": "Groups",
    "profile": "Resources",
    "environment": "Environment",
    "idle_minutes": "Stop when idle",
    "env": "Environment variables",
    "secrets": "Secrets",
    "form": "The form",
}
ACCESS_CHOICES = (
    ("private", "Only me", "and hub admins"),
    ("restricted", "Chosen people and groups", "pick them below"),
    ("authenticated", "Everyone on this hub", "any user who can log in"),
    ("public", "Anyone with the link", "no login needed"),
)


# What aiohttp's ``request.post()`` gives: a multi-dict of strings (and files, ignored).
FormData = MultiMapping[Any]


def _one(form: FormData, key: str) -> str:
    value = form.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_env(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for number, line in enumerate(_lines(text), 1):
        name, equals, value = line.partition("=")
        if not equals:
            raise ValueError(f"line {number} ({line[:40]!r}) is not NAME=value")
        env[name.strip()] = value.strip()
    return env


def to_document(form: FormData, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The API document the form describes, and the mistakes found before validation."""
    errors: dict[str, str] = {}
    framework = _one(form, "framework")
    doc: dict[str, Any] = {
        "title": _one(form, "title"),
        "description": _one(form, "description"),
        "framework": framework,
        "entry": _one(form, "entry").strip("/"),
        "command": _lines(_one(form, "command")) if framework == "custom" else [],
    }
    if creating:
        doc["name"] = _one(form, "name")
    if _one(form, "source_type") == "git":
        doc["source"] = {
            "type": "git",
            "url": _one(form, "git_url"),
            "ref": _one(form, "git_ref"),
            "path": _one(form, "git_path").strip("/"),
        }
    else:
        doc["source"] = {"type": "storage", "path": _one(form, "source_path").strip("/")}
        if _one(form, "source_volume"):
            doc["source"]["volume"] = _one(form, "source_volume")
    users = [u for u in form.getall("access_users", []) if isinstance(u, str)]
    if len(users) == 1 and "," in users[0]:  # the text field, when the hub lists no users
        users = [u.strip() for u in users[0].split(",")]
    doc["access"] = {
        "mode": _one(form, "access_mode") or "private",
        "users": [u.strip() for u in users if u.strip()],
        "groups": [g for g in form.getall("access_groups", []) if isinstance(g, str) and g],
    }
    try:
        doc["env"] = parse_env(_one(form, "env"))
    except ValueError as e:
        errors["env"] = str(e)
    try:
        secrets: dict[str, str | None] = dict(parse_env(_one(form, "secrets")))
    except ValueError as e:
        errors["secrets"] = str(e)
    else:
        removed = [n for n in form.getall("secrets_remove", []) if isinstance(n, str)]
        secrets.update({n: None for n in removed if n not in secrets})
        if secrets:
            doc["secrets"] = secrets  # names not mentioned stay as they are
    if doc["source"]["type"] == "git" and _one(form, "git_forget"):
        doc["source"]["credentials"] = False
    minutes = _one(form, "idle_minutes")
    if minutes:
        try:
            doc["idle_timeout"] = round(float(minutes) * 60)
        except (ValueError, OverflowError):  # also "nan", "inf" (found by hypothesis)
            errors["idle_minutes"] = "write a number of minutes, e.g. 30"
    if _one(form, "profile"):
        doc["profile"] = _one(form, "profile")
    if "environment" in form:
        doc["environment"] = _one(form, "environment")
    return doc, errors


def form_errors(api_errors: Mapping[str, str], source_type: str, rules: Rules) -> dict[str, str]:
    """Validation errors keyed by API field, re-keyed by the form field that shows them."""
    fields = {
        "source.path": "git_path" if source_type == "git" else "source_path",
        "source.url": "git_url",
        "source.ref": "git_ref",
        "source.type": "source_path",
        "source.volume": "source_volume",
        "access.mode": "access_mode",
        "access.users": "access_users",
        "access.groups": "access_groups",
        "idle_timeout": "idle_minutes",
    }
    shown: dict[str, str] = {}
    for field, message in api_errors.items():
        key = field.split(".")[0] if field.startswith(("env", "secrets")) else field
        key = fields.get(key, key)
        if key == "idle_minutes" and "between" in message:
            message = f"choose between {rules.idle_min // 60} and {rules.idle_max // 60} minutes"
        shown.setdefault(key if key in LABELS else "form", message)
    return shown


def to_values(d: Dashboard) -> dict[str, Any]:
    """A dashboard as the form's field values (the edit form starts from these)."""
    git = d.source.type == "git"
    return {
        "name": d.name,
        "title": d.title,
        "description": d.description,
        "framework": d.framework,
        "command": "\n".join(d.command),
        "source_type": d.source.type,
        "source_path": "" if git else d.source.path,
        "source_volume": d.source.volume,
        "git_url": split_credentials(d.source.url)[0],  # the credentials are never shown
        "git_credentials": GIT in d.secrets or bool(split_credentials(d.source.url)[1]),
        "git_ref": d.source.ref,
        "git_path": d.source.path if git else "",
        "entry": d.entry,
        "access_mode": d.access.mode,
        "access_users": list(d.access.users),
        "access_groups": list(d.access.groups),
        "env": "\n".join(f"{k}={v}" for k, v in d.env.items()),
        "secrets": "",  # write-only: the names are listed, the values never
        "secret_names": secret_names(d.secrets),
        "idle_minutes": str(d.idle_timeout // 60)
        if d.idle_timeout % 60 == 0
        else str(round(d.idle_timeout / 60, 2)),
        "profile": d.profile,
        "environment": d.environment,
    }


def from_form(form: FormData) -> dict[str, Any]:
    """The submitted values, to show the form again with its errors."""
    values: dict[str, Any] = {key: _one(form, key) for key in LABELS}
    values["source_type"] = _one(form, "source_type") or "storage"
    values["access_users"] = [u for u in form.getall("access_users", []) if isinstance(u, str)]
    values["access_groups"] = [g for g in form.getall("access_groups", []) if isinstance(g, str)]
    values["env"] = form.get("env", "") if isinstance(form.get("env", ""), str) else ""
    values["secrets"] = ""  # typed values are not sent back into the page
    values["command"] = form.get("command", "") if isinstance(form.get("command", ""), str) else ""
    values["start"] = _one(form, "start")
    return values


def access_text(mode: str, public_enabled: bool, owner: str) -> str:
    return {
        "private": f"Only {owner} and hub admins.",
        "restricted": f"{owner}, hub admins, and the people and groups below.",
        "authenticated": "Everyone who can log in to this hub.",
        "public": "Anyone with the link, without logging in."
        if public_enabled
        else "Anyone with the link — but public dashboards are turned off on this hub, "
        "so only hub users.",
    }.get(mode, mode)


def access_choices(rules: Rules) -> Sequence[tuple[str, str, str]]:
    return [c for c in ACCESS_CHOICES if c[0] != "public" or rules.public_enabled]
