"""Share links: an owner's link to one dashboard for people without a hub account or
outside its access list, valid until a date, revocable at once.

A link is a random token (32 bytes, shown once, when it is made); the store keeps its
SHA-256 only, so the database cannot hand out working links. Opening it gives a pass for
that one dashboard (gateway.front.passes), never a hub login, another dashboard or the API.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from gateway.domain.store import Store, translated
from gateway.domain.tables import MAX_NOTE
from gateway.domain.tables import share_links as links
from gateway.errors import Invalid, NotFound

BAD_MOMENT = "expires must be a date (2026-12-31) or an ISO date-time"
MAX_LINKS = 50  # per dashboard, revoked and expired ones included until deleted


@dataclass(frozen=True)
class ShareLink:
    id: str
    owner: str
    name: str
    note: str
    created: float  # seconds since the epoch
    expires: float
    revoked: float | None
    views: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.owner, self.name)

    def state(self, now: float | None = None) -> str:
        """``valid``, ``revoked`` or ``expired``."""
        if self.revoked is not None:
            return "revoked"
        return "expired" if (time.time() if now is None else now) >= self.expires else "valid"

    def as_json(self) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

        return {"id": self.id, "note": self.note, "created": iso(self.created),
                "expires": iso(self.expires), "revoked": iso(self.revoked),
                "views": self.views, "state": self.state()}  # fmt: skip


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_link(doc: Any, max_days: int, now: float | None = None) -> tuple[str, float]:
    """``{"expires": "2026-12-31" or an ISO date-time, "note": "…"}`` (or ``"days": n``):
    its note and expiry, checked against the admin's maximum."""
    if not isinstance(doc, dict):
        raise Invalid("the body must be a JSON object")
    unknown = set(doc) - {"expires", "days", "note"}
    if unknown:
        raise Invalid(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    now = time.time() if now is None else now
    note = doc.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE or any(ord(c) < 32 for c in note):
        raise Invalid(f"note must be text of at most {MAX_NOTE} characters", field="note")
    if ("expires" in doc) == ("days" in doc):
        raise Invalid("give the link's end: expires (a date or date-time) or days", field="expires")
    if "days" in doc:
        days = doc["days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= max_days:
            raise Invalid(f"days must be a whole number from 1 to {max_days}", field="days")
        expires = now + days * 86400.0
    else:
        expires = _moment(doc["expires"])
    if expires <= now:
        raise Invalid("expires must be in the future", field="expires")
    if expires > now + max_days * 86400.0 + 60:
        raise Invalid(
            f"a share link lasts at most {max_days} days here (c.Podium.share_link_max_days)",
            field="expires",
        )
    return note, expires


def _moment(value: Any) -> float:
    """A date (the end of that day, UTC) or a date-time (UTC unless it says otherwise)."""
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid(BAD_MOMENT, field="expires")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + 86400
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "expires must be a date (2026-12-31) or an ISO date-time", field="expires"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _link(row: Any) -> ShareLink:
    m = row._mapping
    return ShareLink(m["id"], m["owner"], m["name"], m["note"], m["created"], m["expires"],
                     m["revoked"], m["views"])  # fmt: skip


class ShareLinks:
    """The share links of every dashboard, in the gateway's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @translated
    async def create(
        self, owner: str, name: str, note: str, expires: float
    ) -> tuple[ShareLink, str]:
        """A new link and its token (the only time the token is known)."""
        if len(await self.of(owner, name)) >= MAX_LINKS:
            raise Invalid(f"a dashboard has at most {MAX_LINKS} share links: delete old ones")
        token = secrets.token_urlsafe(32)
        link = ShareLink(secrets.token_hex(16), owner, name, note, time.time(), expires, None, 0)
        async with self.store.transaction() as conn:
            await conn.execute(sa.insert(links).values(
                id=link.id, owner=owner, name=name, token_hash=token_hash(token), note=note,
                created=link.created, expires=expires, revoked=None, views=0))  # fmt: skip
        if len(await self.of(owner, name)) > MAX_LINKS:  # made at once with others: undone
            async with self.store.transaction() as conn:
                await conn.execute(sa.delete(links).where(links.c.id == link.id))
            raise Invalid(f"a dashboard has at most {MAX_LINKS} share links: delete old ones")
        return link, token

    @translated
    async def of(self, owner: str, name: str) -> list[ShareLink]:
        query = (
            sa.select(links)
            .where(links.c.owner == owner, links.c.name == name)
            .order_by(links.c.created)
        )
        async with self.store.engine.connect() as conn:
            return [_link(r) for r in await conn.execute(query)]

    @translated
    async def by_token(self, token: str) -> ShareLink | None:
        query = sa.select(links).where(links.c.token_hash == token_hash(token))
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _link(row) if row is not None else None

    @translated
    async def get(self, link_id: str) -> ShareLink | None:
        async with self.store.engine.connect() as conn:
            row = (await conn.execute(sa.select(links).where(links.c.id == link_id))).first()
        return _link(row) if row is not None else None

    @translated
    async def revoke(self, owner: str, name: str, link_id: str) -> None:
        mine = sa.and_(links.c.id == link_id, links.c.owner == owner, links.c.name == name)
        async with self.store.transaction() as conn:
            result = await conn.execute(
                sa.update(links).where(mine, links.c.revoked.is_(None)).values(revoked=time.time())
            )
            if (
                result.rowcount == 0
                and (await conn.execute(sa.select(links.c.id).where(mine))).first() is None
            ):
                raise NotFound(f"{owner}/{name} has no share link {link_id}")

    @translated
    async def viewed(self, link_id: str) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                sa.update(links).where(links.c.id == link_id).values(views=links.c.views + 1)
            )

    @translated
    async def forget_dashboard(self, owner: str, name: str) -> None:
        """A deleted dashboard's links go with it (a new one of that name gets none)."""
        async with self.store.transaction() as conn:
            await conn.execute(sa.delete(links).where(links.c.owner == owner, links.c.name == name))
