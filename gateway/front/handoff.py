"""Sign-in on a dashboard's own origin: a one-time code from the gateway, a cookie for one
dashboard, in the browser that asked for it.

The viewer's session cookie belongs to the gateway's origin and never goes to a
dashboard's. When a signed-in viewer opens a dashboard (paths under the prefix:
the hub's proxy routes only those to the gateway):

1. the gateway's origin sends the browser to ``<dashboard origin><prefix>_/signin/start``,
   which keeps a random nonce in a host-only, HttpOnly cookie of that origin and sends
   the browser back with the nonce's digest (the *state*);
2. the gateway's ``<prefix>_/signin/code`` mints a code for this viewer, this dashboard
   and that state (60 s, single use);
3. ``<dashboard origin><prefix>_/signin`` takes the code only with the nonce behind its
   state, and sets a host-only, HttpOnly cookie valid for that dashboard alone, until
   the session it came from ends (a logout ends both).

Step 1 binds the code to the browser: a code someone minted in their own session and
sent as a link opens nothing in another browser, which has not their nonce. The
gateway checks access on every request as before; the cookie only says who the
viewer is.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from typing import Any

import jwt

DASHBOARD_COOKIE = "podium-dashboard"
STATE_COOKIE = "podium-signin"
SIGNIN = "_/signin"  # after the prefix, on a dashboard origin only
START = "_/signin/start"  # on a dashboard origin: the nonce, then to CODE_PATH
CODE_PATH = "_/signin/code"  # on the gateway's origin: the code, then to SIGNIN
CODE_SECONDS = 60
STATE_SECONDS = 600  # a login at the hub may come in between
STATES_KEPT = 4  # sign-ins under way at once in one browser (tabs) for one origin
CODE = "handoff"  # the "use" claim of each kind of signed value
DASHBOARD = "dashboard"


def dashboard_id(owner: str, name: str) -> str:
    return f"{owner}/{name}"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def state_of(nonce: str) -> str:
    """What the gateway sees of a nonce: its digest (the nonce stays on its origin)."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def nonces_with(cookie: str | None, nonce: str) -> str:
    """The state cookie's value with ``nonce`` added (the newest few kept)."""
    kept = (cookie or "").split(".")[-(STATES_KEPT - 1) :]
    return ".".join([n for n in kept if n] + [nonce])


class Handoff:
    """Mints and redeems sign-in codes (each once, in this gateway process)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self._redeemed: dict[str, float] = {}  # code id -> its expiry

    def code(self, user: str, owner: str, name: str, session: dict[str, Any], state: str) -> str:
        """A code for ``user`` to open ``owner/name`` in the browser holding the nonce of
        ``state``, bound to the session it comes from."""
        now = int(time.time())
        claims = {
            "use": CODE,
            "sub": user,
            "dash": dashboard_id(owner, name),
            "state": state,
            "siat": float(session.get("begun", session.get("iat", now))),
            "sexp": int(session["exp"]),
            "sid": str(session.get("sid", "")),  # its end at the hub ends this too
            "jti": secrets.token_urlsafe(12),
            "iat": now,
            "exp": now + CODE_SECONDS,
        }
        return jwt.encode(claims, self.secret, "HS256")

    def redeem(
        self, code: str, owner: str, name: str, nonces: Sequence[str]
    ) -> tuple[str, int, str] | None:
        """For a valid, unused code of this dashboard whose state is one of ``nonces``
        (the state cookie's): the dashboard cookie's value, its expiry and the nonce
        used; else None."""
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
        # Spent by any attempt, also a refused one: a code minted for another browser's
        # nonce (a page that sent its viewer to mint one) is then worth nothing to the
        # page that reads it from the address bar of the refusal.
        self._redeemed[claims["jti"]] = float(claims["exp"])
        nonce = next((n for n in nonces if state_of(n) == claims.get("state")), None)
        if nonce is None:
            return None  # minted for another browser: a link someone sent, not one's own
        cookie = {
            "use": DASHBOARD,
            "sub": claims["sub"],
            "dash": claims["dash"],
            "iat": int(claims["siat"]),
            "begun": claims["siat"],
            "exp": claims["sexp"],
        }
        if claims.get("sid"):
            cookie["sid"] = claims["sid"]
        return jwt.encode(cookie, self.secret, "HS256"), int(claims["sexp"]), nonce
