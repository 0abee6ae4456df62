"""A dashboard's secrets: write-only values, encrypted at rest, given to its app as
environment variables.

The API and the form take values and show names only; the store keeps Fernet
tokens; only a launcher, building a runner's launch spec, decrypts them. A git
source's credentials (``https://user:token@host/…`` as creators paste it) are kept
the same way, under :data:`GIT`, and the stored URL never carries them; they go
to git, never to the app.

The key is the admin's, as JupyterHub's ``JUPYTERHUB_CRYPT_KEY``:
``$PODIUM_CRYPT_KEY`` or ``c.Podium.crypt_key``, one or more 32-byte keys (hex, as
``openssl rand -hex 32`` prints, or base64) separated by ``;``. The first encrypts,
every one decrypts: put a new key first to rotate, drop the old one once every
dashboard was saved again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import Invalid

GIT = ":git"  # where a git source's credentials are kept among the secrets (no env name)
KEY_ENV = "PODIUM_CRYPT_KEY"
NO_KEY = (
    "secrets need an encryption key, which this hub does not have: the admin sets "
    f"${KEY_ENV} (docs/admin.md, Secrets)"
)


class CryptKeyError(ValueError):
    """``c.Podium.crypt_key`` holds something that is not a 32-byte key."""


class Unreadable(Exception):
    """A stored secret no configured key decrypts (the key was changed, not rotated)."""


def _key(text: str) -> bytes:
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error):
            raw = None
    if raw is None or len(raw) != 32:
        raise CryptKeyError(
            f"${KEY_ENV} holds a value that is not a 32-byte key in hex or base64 "
            "(make one with: openssl rand -hex 32)"
        )
    return base64.urlsafe_b64encode(raw)


class Crypt:
    """Encrypts with the first key, decrypts with any."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def parse(cls, text: str) -> Crypt | None:
        """The keys of ``a;b;…``; None for an empty value (no secrets on this hub)."""
        parts = [p for p in text.split(";") if p.strip()]
        return cls([_key(p) for p in parts]) if parts else None

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise Unreadable(
                "a secret of this dashboard cannot be decrypted with the configured keys: "
                f"keep the old key in ${KEY_ENV} after the new one, or set the secret again"
            ) from None


def split_credentials(url: str) -> tuple[str, str]:
    """An http(s) git URL without its user-info, and the user-info (``user:password``,
    ``""`` when there is none). Other schemes keep theirs (``ssh://git@…`` names a
    user, not a secret)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or "@" not in parts.netloc:
        return url, ""
    userinfo, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=host)), userinfo


def with_login(url: str, userinfo: str) -> str:
    """:func:`split_credentials` undone."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def git_login(userinfo: str) -> tuple[str, str]:
    """``(username, password)`` of a URL's user-info; a lone token is the password (with
    the username GitHub, GitLab and Gitea accept for tokens)."""
    user, colon, password = userinfo.partition(":")
    if not colon:
        return "x-access-token", unquote(user)
    return unquote(user), unquote(password)


def merge(
    current: Mapping[str, str], changes: Mapping[str, str | None], crypt: Crypt | None
) -> dict[str, str]:
    """The stored secrets after an edit: a value sets (encrypted), ``None`` removes, a
    name not mentioned stays as it was."""
    merged = dict(current)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
            continue
        if crypt is None:
            raise Invalid(NO_KEY, field="secrets" if name != GIT else "source.url")
        merged[name] = crypt.encrypt(value)
    return merged


def names(secrets: Mapping[str, str]) -> list[str]:
    """What anyone is ever shown of a dashboard's secrets: the names its app sees."""
    return sorted(n for n in secrets if n != GIT)


def reveal(
    secrets: Mapping[str, str], crypt: Crypt | None
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """For a launch spec only: the app's variables, and git's login if there is one."""
    if not secrets:
        return {}, None
    if crypt is None:
        raise Unreadable(f"this dashboard has secrets but the gateway has no ${KEY_ENV}")
    env = {n: crypt.decrypt(v) for n, v in secrets.items() if n != GIT}
    login = git_login(crypt.decrypt(secrets[GIT])) if GIT in secrets else None
    return env, login
