"""Sign-in on a dashboard's own origin: a one-time code from the gateway, a cookie for one
dashboard.

The viewer's session cookie belongs to the gateway's origin and never goes to a
dashboard's. When a signed-in viewer opens a dashboard, the gateway mints a code
for that viewer and that dashboard (60 s, single use) and sends the browser to
``<dashboard origin><prefix>_/signin?code=…&next=…`` (under the prefix: the hub's
proxy routes only that to the gateway); there the code becomes a
host-only, HttpOnly cookie valid for that dashboard alone, until the session it
came from ends (a logout ends both). The gateway checks access on every request
as before; the cookie only says who the viewer is.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

DASHBOARD_COOKIE = "podium-dashboard"
SIGNIN = "_/signin"  # after the prefix, on a dashboard origin only
CODE_SECONDS = 60
CODE = "handoff"  # the "use" claim of each kind of signed value
DASHBOARD = "dashboard"


def dashboard_id(owner: str, name: str) -> str:
    return f"{owner}/{name}"


class Handoff:
    """Mints and redeems sign-in codes (each once, in this gateway process)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self._redeemed: dict[str, float] = {}  # code id -> its expiry

    def code(self, user: str, owner: str, name: str, session: dict[str, Any]) -> str:
        """A code for ``user`` to open ``owner/name``, bound to the session it comes from."""
        now = int(time.time())
        claims = {
            "use": CODE,
            "sub": user,
            "dash": dashboard_id(owner, name),
            "siat": float(session.get("begun", session.get("iat", now))),
            "sexp": int(session["exp"]),
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "exp": now + CODE_SECONDS,
        }
        return jwt.encode(claims, self.secret, "HS256")

    def redeem(self, code: str, owner: str, name: str) -> tuple[str, int] | None:
        """The dashboard cookie's value and expiry for a valid, unused code of this
        dashboard; else None."""
        try:
            claims = jwt.decode(
                code, self.secret, algorithms=["HS256"], options={"require": ["exp", "jti"]}
            )
        except jwt.PyJWTError:
            return None
        if claims.get("use") != CODE or claims.get("dash") != dashboard_id(owner, name):
            return None
        now = time.time()
        self._redeemed = {jti: exp for jti, exp in self._redeemed.items() if exp > now}
        if claims["jti"] in self._redeemed:
            return None  # a second use: a code seen in a log or a Referer is worth nothing
        self._redeemed[claims["jti"]] = float(claims["exp"])
        cookie = {
            "use": DASHBOARD,
            "sub": claims["sub"],
            "dash": claims["dash"],
            "iat": int(claims["siat"]),
            "begun": claims["siat"],
            "exp": claims["sexp"],
        }
        return jwt.encode(cookie, self.secret, "HS256"), int(claims["sexp"])
