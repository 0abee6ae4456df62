"""The dashboard: what a creator publishes, as the API shows it and the store keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from gateway.domain.secrets import GIT, split_credentials
from gateway.domain.secrets import names as secret_names
from runners.names import owner_segment

ACCESS_MODES = ("private", "restricted", "authenticated", "public")
Status = Literal["stopped", "starting", "ready", "stopping", "failed"]
Desired = Literal["running", "stopped"]
STATUSES: tuple[Status, ...] = get_args(Status)
DESIRED: tuple[Desired, ...] = get_args(Desired)


Key = tuple[str, str]  # (owner, name): one dashboard


def as_status(value: object) -> Status:
    """A stored status as the type says (anything unknown reads as stopped)."""
    for status in STATUSES:
        if value == status:
            return status
    return "stopped"


def as_desired(value: object) -> Desired:
    for desired in DESIRED:
        if value == desired:
            return desired
    return "stopped"


@dataclass(frozen=True)
class Access:
    mode: str = "private"
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "users": list(self.users), "groups": list(self.groups)}


@dataclass(frozen=True)
class Source:
    """``storage``: a folder of the owner's storage, or of a ``volume`` the admin shares
    with every user (``""``: the owner's own); ``git``: a repository at a ref."""

    type: str = "storage"
    path: str = ""
    url: str = ""
    ref: str = ""
    volume: str = ""

    def as_json(self) -> dict[str, Any]:
        if self.type == "git":
            return {"type": "git", "url": self.url, "ref": self.ref, "path": self.path}
        if self.volume:
            return {"type": "storage", "volume": self.volume, "path": self.path}
        return {"type": "storage", "path": self.path}


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dashboard:
    owner: str
    name: str
    framework: str
    entry: str = ""
    title: str = ""
    description: str = ""
    source: Source = field(default_factory=Source)
    access: Access = field(default_factory=Access)
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(
        default_factory=dict
    )  # name -> encrypted (gateway.domain.secrets)
    command: tuple[str, ...] = ()  # framework "custom" only: the command template
    idle_timeout: int = 1800
    profile: str = ""  # a resource profile the admin offers ("": the first, the default)
    environment: str = ""  # a Python environment the admin offers ("": the default)
    desired: Desired = "stopped"
    status: Status = "stopped"
    message: str = ""
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)

    @property
    def key(self) -> Key:
        return (self.owner, self.name)

    @property
    def path(self) -> str:
        """``<owner>/<name>`` as every URL of the dashboard spells it (runners.names)."""
        return f"{owner_segment(self.owner)}/{self.name}"

    def url(self, prefix: str) -> str:
        """The shareable link: stable across restarts, rebuilds and gateway restarts."""
        return f"{prefix}{self.path}/"

    def public_json(self, prefix: str) -> dict[str, Any]:
        """What a viewer sees (the gallery's card): never the source, the command, the
        environment, the access lists or a runner's message."""
        return {
            "owner": self.owner,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "framework": self.framework,
            "url": self.url(prefix),
            "status": self.status,
        }

    def as_json(self, prefix: str) -> dict[str, Any]:
        """The whole document, for its managers: of the secrets, only their names."""
        source = self.source.as_json()
        if self.source.type == "git":
            url, userinfo = split_credentials(self.source.url)  # one kept by an old version
            source.update(url=url, credentials=GIT in self.secrets or bool(userinfo))
        return {
            **self.public_json(prefix),
            "source": source,
            "entry": self.entry,
            "access": self.access.as_json(),
            "env": dict(self.env),
            "secrets": secret_names(self.secrets),
            "command": list(self.command),
            "idle_timeout": self.idle_timeout,
            "profile": self.profile,
            "environment": self.environment,
            "message": self.message,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }
