"""Podium's sessions follow the hub's: each keeps the OAuth token it began with, and the
hub is asked about that token at most every ``refresh_interval`` (a hub logout deletes
the tokens of that browser's hub session, so the Podium session ends with it)."""

from __future__ import annotations

import time
from typing import Any

from gateway.errors import Unavailable
from gateway.hub.client import Hub


class HubSessions:
    def __init__(self, hub: Hub, refresh_interval: float, most: int) -> None:
        self.hub = hub
        self.refresh_interval = refresh_interval
        self.most = most  # sessions whose hub token this process remembers
        self._tokens: dict[str, str] = {}  # session id -> its hub token (this process)
        self._checked: dict[str, float] = {}  # session id -> when its token was good

    def remember(self, sid: str, hub_token: str, *, checked: bool = False) -> None:
        self._tokens[sid] = hub_token
        if checked:
            self._checked.setdefault(sid, time.monotonic())
        while len(self._tokens) > self.most:  # the oldest first
            oldest = next(iter(self._tokens))
            del self._tokens[oldest]
            self._checked.pop(oldest, None)

    def due(self, claims: dict[str, Any]) -> bool:
        """Whether the hub must be asked about this cookie's session now."""
        sid = str(claims.get("sid", ""))
        if "hub" in claims and sid not in self._tokens:
            self.remember(sid, str(claims["hub"]))
        if sid not in self._tokens:
            return False  # a dashboard's cookie, its session not seen here yet: nothing to ask
        checked = self._checked.get(sid)
        return checked is None or time.monotonic() - checked >= self.refresh_interval

    async def ended(self, claims: dict[str, Any]) -> bool:
        """Whether the hub session this cookie's session began in has ended (asked at most
        every ``refresh_interval``; a hub that is down ends nothing)."""
        if not self.due(claims):
            return False
        sid = str(claims["sid"])
        self._checked[sid] = time.monotonic()  # one question per interval, not per request
        try:
            user = await self.hub.user_for_token(self._tokens[sid], api=False)
        except Unavailable:
            return False  # sessions go on (as for users' models)
        if user is not None:
            return False
        self._tokens.pop(sid, None)
        return True
