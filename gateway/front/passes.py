"""The pass a share link gives: a cookie that lets its bearer view one dashboard.

Signed (HS256) with a key of its own derived from the cookie secret, so that no session
or dashboard cookie can pass for one, nor one for them; it names the dashboard and the
link, and expires with the link. Its path is the dashboard's own, on the dashboard's origin
where dashboards have one: the browser sends it nowhere else, and the gateway honours it for
that dashboard alone — never as a hub login, for another dashboard or for the API.

The link behind it is looked up (cached for ``seconds``): a revoked link's passes stop at
once on the replica that revoked it, within ``seconds`` on the others.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

import jwt

from gateway.cache import Cache
from gateway.domain.dashboards import Key
from gateway.domain.shares import ShareLink, ShareLinks

SHARE_COOKIE = "podium-share"
USE = "share"


class Passes:
    def __init__(
        self, secret: bytes, links: ShareLinks, enabled: bool, seconds: float = 2.0
    ) -> None:
        self.enabled = enabled  # c.Podium.share_links: off, every pass given stops
        self._key = hmac.new(secret, b"podium share-link passes", hashlib.sha256).digest()
        self.links = links
        self._links: Cache[str, ShareLink | None] = Cache(seconds, 10_000)
        self._verified: Cache[str, dict[str, Any] | None] = Cache(math.inf, 10_000)

    def issue(self, link: ShareLink) -> str:
        claims = {"use": USE, "dash": f"{link.owner}/{link.name}", "link": link.id,
                  "exp": int(link.expires), "iat": int(time.time())}  # fmt: skip
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _claims(self, cookie: str) -> dict[str, Any] | None:
        found = self._verified.fresh(cookie)
        if found is None:
            try:
                claims = jwt.decode(
                    cookie, self._key, algorithms=["HS256"], options={"require": ["exp"]}
                )
            except jwt.PyJWTError:
                claims = None
            self._verified.put(cookie, claims)
        else:
            claims = found[0]
        if not self.enabled or claims is None or claims.get("use") != USE:
            return None
        if claims["exp"] <= time.time():
            return None
        return claims

    def known(self, cookie: str, key: Key) -> bool | None:
        """Whether ``cookie`` lets its bearer view ``key``, from what is cached: ``None``
        when its link must be looked up (the front door's per-request path: no await)."""
        claims = self._claims(cookie)
        if claims is None or claims.get("dash") != f"{key[0]}/{key[1]}":
            return False
        found = self._links.fresh(str(claims.get("link")))
        if found is None:
            return None
        return _lets(found[0], key)

    async def check(self, cookie: str, key: Key) -> bool:
        """Whether ``cookie`` lets its bearer view ``key`` (its link looked up if need be)."""
        claims = self._claims(cookie)
        if claims is None or claims.get("dash") != f"{key[0]}/{key[1]}":
            return False
        link_id = str(claims.get("link"))
        return _lets(await self._links.get(link_id, lambda: self.links.get(link_id)), key)

    def link_of(self, cookie: str) -> str:
        """The link a (verified) pass was given by."""
        claims = self._claims(cookie)
        return str(claims.get("link", "")) if claims else ""

    async def still_valid(self, link_id: str) -> bool:
        """Whether a link still lets its passes in (its tunnels stay open)."""
        if not self.enabled:
            return False
        link = await self._links.get(link_id, lambda: self.links.get(link_id))
        return link is not None and link.state() == "valid"

    def forget(self, link_id: str) -> None:
        """A link changed here (revoked): its passes are looked up again at once."""
        self._links.forget(link_id)


def _lets(link: ShareLink | None, key: Key) -> bool:
    return link is not None and link.key == key and link.state() == "valid"
