"""Who is asking: Hub OAuth login, the session cookie, API tokens, and XSRF for browser writes.

- Browsers log in through the hub's OAuth code flow; the gateway then sets a
  signed (HS256 JWT), HttpOnly session cookie scoped to its prefix. The cookie
  names the user only: the admin flag and groups come from the hub and are
  re-read every ``user_refresh_interval`` seconds, so a group change or a
  deleted user applies within that bound without a new login.
- API callers send ``Authorization: token <hub token>``; the hub says whose it
  is, cached for ``token_cache_seconds`` (keyed by a hash, never the token).
- Browser writes must echo the session's XSRF value in ``X-XSRF-Token`` (the
  value is also in the readable ``podium-xsrf`` cookie, whose path is the
  gateway's own ``<prefix>_/``: no dashboard path can read it), or in the
  ``_xsrf`` field of the gateway's own forms: a cross-site form cannot read it.
- On a dashboard's own origin the viewer is known by that dashboard's cookie
  (gateway.front.handoff), read here like a session but valid for that dashboard only.
- A logout (a POST with the XSRF value) ends every session and dashboard cookie
  of that user begun before it: at once here, and on every other replica within
  seconds (the store keeps the time; each gateway reads new ones every 2 s).
- A session lasts ``session_max_age`` (a day) without use, renewed at most hourly
  by visits to the gateway's pages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from aiohttp import web

from gateway.cache import Cache
from gateway.domain.access import User
from gateway.errors import Forbidden, Unauthenticated, Unavailable
from gateway.front.handoff import DASHBOARD
from gateway.hub.client import Hub
from gateway.hub.requests import api_token, redirect, safe_next, sole_cookie
from gateway.hub.sessions import HubSessions

log = logging.getLogger("podium.auth")
SESSION_COOKIE = "podium-session"
STATE_COOKIE = "podium-oauth-state"
XSRF_COOKIE = "podium-xsrf"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
XSRF_HEADER = "X-XSRF-Token"
STATE_SECONDS = 600
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
RENEW_AFTER = 3600  # a session used after this many seconds is issued anew (sliding)


@dataclass
class Identity:
    user: User | None
    via: str  # "session", "token" or "anonymous"
    xsrf: str = ""


MAX_SESSIONS_KEPT = 50_000  # sessions whose hub token this process remembers


def session_key(sid: str) -> str:
    """Where one session's end is kept among users' logouts (a leading space: no hub
    username has one)."""
    return f" session {sid}"


def _stale(key: str, user: User | None) -> None:
    if user is not None:
        log.warning("hub unavailable; using the last known model of %s", user.name)


class Auth:
    def __init__(
        self,
        *,
        hub: Hub,
        secret: bytes,
        prefix: str,
        hub_url: str,
        client_id: str,
        callback_url: str,
        session_max_age: int,
        refresh_interval: int,
        token_seconds: int,
        https: bool = False,
    ) -> None:
        self.hub = hub
        self.https = https  # c.Podium.public_url is https: every cookie is Secure
        self.secret = secret
        self.prefix = prefix
        self.hub_url = hub_url if hub_url.endswith("/") else hub_url + "/"
        self.client_id = client_id
        self.callback_url = callback_url
        self.session_max_age = session_max_age
        self.refresh_interval = refresh_interval
        self.token_seconds = token_seconds
        # The hub restarting: keep serving what it last said, rather than locking every
        # viewer out of running dashboards.
        self._users: Cache[str, User | None] = Cache(
            refresh_interval, MAX_SESSIONS_KEPT, stale_on=(Unavailable,), on_stale=_stale
        )
        self._tokens: Cache[str, User | None] = Cache(
            token_seconds, 10_000, stale_on=(Unavailable,), on_stale=_stale
        )
        # A signed cookie -> its checked claims (each has its own expiry).
        self._verified: Cache[str, dict[str, Any]] = Cache(math.inf, 10_000)
        self._logged_out: dict[str, float] = {}  # user (or session key) -> when it ended
        self.hub_sessions = HubSessions(hub, refresh_interval, MAX_SESSIONS_KEPT)
        self.on_hub_logout: Callable[[str, float], Awaitable[None]] | None = None
        self._hub_seen: Cache[None, bool] = Cache(2, 1)  # the hub's liveness

    # --- cookies -----------------------------------------------------------------
    def _sign(self, claims: dict[str, Any], seconds: int) -> str:
        now = int(time.time())
        return jwt.encode({**claims, "iat": now, "exp": now + seconds}, self.secret, "HS256")

    def _read(self, token: str | None, use: str | None = None) -> dict[str, Any] | None:
        """The claims of a value this gateway signed for ``use`` (None: a session or a
        login's state), unexpired and not ended by a logout; else None."""
        if not token:
            return None
        found = self._verified.fresh(token)
        claims = found[0] if found is not None else None
        if claims is None or claims["exp"] <= time.time():
            try:
                claims = jwt.decode(
                    token, self.secret, algorithms=["HS256"], options={"require": ["exp"]}
                )
            except jwt.PyJWTError:
                return None
            self._verified.put(token, claims)  # the proxy reads the same cookie on every request
        if claims.get("use") != use:
            return None  # a dashboard's cookie is no session, nor the other way round
        ended = self._logged_out.get(str(claims.get("sub", "")))
        if ended is not None and claims.get("begun", claims.get("iat", 0)) <= ended:
            return None
        if "sid" in claims and session_key(str(claims["sid"])) in self._logged_out:
            return None  # its hub session ended (a logout at the hub)
        return claims

    def session_claims(self, request: web.Request) -> dict[str, Any] | None:
        return self._read(sole_cookie(request, SESSION_COOKIE))

    def log_out(self, name: str, at: float | None = None) -> float:
        """End ``name``'s sessions and dashboard cookies begun until ``at`` (now)."""
        when = time.time() if at is None else at
        self._logged_out[name] = max(when, self._logged_out.get(name, 0.0))
        return when

    def due_renewal(self, request: web.Request) -> dict[str, Any] | None:
        """This request's session when it was issued over an hour ago (to be issued anew)."""
        claims = self.session_claims(request)
        if claims is None or time.time() - claims.get("iat", 0) <= RENEW_AFTER:
            return None
        return claims

    def secure(self, request: web.Request) -> bool:
        """Whether cookies get ``Secure``: always behind an https public URL; else as the
        first proxy saw the request (configurable-http-proxy appends its own scheme to
        ``X-Forwarded-Proto``: ``https,http`` behind a TLS proxy)."""
        forwarded = request.headers.get("X-Forwarded-Proto", request.scheme)
        return self.https or forwarded.split(",")[0].strip().lower() == "https"

    def set_session(
        self,
        response: web.StreamResponse,
        request: web.Request,
        user: User,
        renewing: dict[str, Any] | None = None,
        hub_token: str = "",
    ) -> None:
        """A new session for ``user`` (begun with ``hub_token``, the hub's OAuth token); or,
        ``renewing`` one, the same session (its XSRF value, beginning, id and hub token,
        which logouts compare with) with a new expiry."""
        xsrf = str(renewing["xsrf"]) if renewing else secrets.token_urlsafe(16)
        begun = float(renewing.get("begun", renewing.get("iat", 0))) if renewing else time.time()
        claims: dict[str, Any] = {"sub": user.name, "xsrf": xsrf, "begun": begun}
        sid = str(renewing.get("sid", "")) if renewing else secrets.token_hex(16)
        hub_token = str(renewing.get("hub", "")) if renewing else hub_token
        if sid and hub_token:
            claims.update(sid=sid, hub=hub_token)
            self.hub_sessions.remember(sid, hub_token, checked=True)
        value = self._sign(claims, self.session_max_age)
        for name, content, path, httponly in (
            (SESSION_COOKIE, value, self.prefix, True),
            (XSRF_COOKIE, xsrf, self.prefix + "_/", False),  # never on a dashboard's path
        ):
            response.set_cookie(
                name,
                content,
                httponly=httponly,
                max_age=self.session_max_age,
                path=path,
                secure=self.secure(request),
                samesite="Lax",
            )

    def clear_session(self, response: web.StreamResponse) -> None:
        response.del_cookie(SESSION_COOKIE, path=self.prefix)
        response.del_cookie(XSRF_COOKIE, path=self.prefix + "_/")
        response.del_cookie(XSRF_COOKIE, path=self.prefix)  # where earlier versions put it

    # --- users ---------------------------------------------------------------------
    async def user_named(self, name: str) -> User | None:
        """The hub's current view of ``name``, at most ``refresh_interval`` seconds old."""
        return await self._users.get(name, lambda: self.hub.user(name))

    async def user_exists(self, name: str) -> bool:
        """Whether ``name`` is still a hub user (asked at most every ``refresh_interval``)."""
        return await self.user_named(name) is not None

    async def user_for_token(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()  # never the token itself
        return await self._tokens.get(key, lambda: self.hub.user_for_token(token))

    def forget(self, name: str) -> None:
        self._users.forget(name)

    async def identify(self, request: web.Request) -> Identity:
        return await self.identify_by(
            request.headers.get("Authorization", ""), sole_cookie(request, SESSION_COOKIE)
        )

    def _cookie_claims(self, cookie: str | None, dashboard: str | None) -> dict[str, Any] | None:
        """A session's claims, or with ``dashboard`` (``owner/name``) that dashboard's cookie's."""
        if dashboard is None:
            return self._read(cookie)
        claims = self._read(cookie, DASHBOARD)
        return claims if claims is not None and claims.get("dash") == dashboard else None

    async def identify_by(
        self, authorization: str, session: str | None, dashboard: str | None = None
    ) -> Identity:
        """Who sends this ``Authorization`` header and session cookie (hub asked if need be);
        with ``dashboard``, the cookie is that dashboard's, on its own origin."""
        token = api_token(authorization)
        if token:
            user = await self.user_for_token(token)
            if user is None:
                raise Unauthenticated(
                    "the API token is not valid, has expired, or does not give access to "
                    "Podium (it needs the scope access:services, e.g. from the hub's user role)"
                )
            return Identity(user, "token")
        claims = self._cookie_claims(session, dashboard)
        if claims is None or not await self._hub_session_alive(claims):
            return Identity(None, "anonymous")
        user = await self.user_named(str(claims.get("sub", "")))
        return Identity(user, "session" if user else "anonymous", str(claims.get("xsrf", "")))

    async def _hub_session_alive(self, claims: dict[str, Any]) -> bool:
        """Whether the hub session this cookie's session began in still holds; ending it
        here and on every replica when it does not."""
        if not await self.hub_sessions.ended(claims):
            return True
        at = self.log_out(session_key(str(claims["sid"])))
        log.info("%s logged out of the hub: their Podium session ends", claims.get("sub"))
        if self.on_hub_logout is not None:
            await self.on_hub_logout(session_key(str(claims["sid"])), at)
        return False

    def known(
        self, authorization: str, session: str | None, dashboard: str | None = None
    ) -> Identity | None:
        """:meth:`identify_by` from what is cached and fresh only; ``None`` when not known.

        The front door asks this on every proxied request: no hub call, no await.
        """
        token = api_token(authorization)
        if token:
            found = self._tokens.fresh(hashlib.sha256(token.encode()).hexdigest())
            if found is None or found[0] is None:
                return None
            return Identity(found[0], "token")
        if not session:
            return Identity(None, "anonymous")
        if self._verified.fresh(session) is None:
            return None  # not verified yet: identify_by does it
        claims = self._cookie_claims(session, dashboard)
        if claims is None:
            return Identity(None, "anonymous")
        if self.hub_sessions.due(claims):
            return None  # identify_by asks the hub
        name = str(claims.get("sub", ""))
        known = self._users.fresh(name)
        if known is None:
            return None
        user = known[0]
        return Identity(user, "session" if user else "anonymous", str(claims.get("xsrf", "")))

    async def check_xsrf(self, request: web.Request, identity: Identity) -> None:
        """Browser writes echo the session's XSRF value: scripts in ``X-XSRF-Token``, the
        gateway's own HTML forms in a hidden ``_xsrf`` field."""
        if identity.via != "session" or request.method in SAFE_METHODS:
            return
        sent = request.headers.get(XSRF_HEADER, "")
        if not sent and request.content_type in FORM_TYPES:
            field = (await request.post()).get("_xsrf", "")
            sent = field if isinstance(field, str) else ""
        if not sent or not hmac.compare_digest(sent, identity.xsrf):
            raise Forbidden(
                f"missing or wrong {XSRF_HEADER} header: browser writes must echo the "
                f"{XSRF_COOKIE} cookie"
            )

    # --- the OAuth flow ------------------------------------------------------------
    async def login_redirect(self, request: web.Request, next_url: str) -> web.Response:
        """Send the browser to the hub's OAuth authorization, or say plainly that it is down.

        A browser sent to a hub that is down meets the proxy's bare error; this way the
        person reads what happened, and that the dashboards they are signed in to still work.
        """
        if not await self._hub_answers():
            raise Unavailable(
                "You cannot sign in right now: JupyterHub is not answering. Dashboards you "
                "are already signed in to keep working; this page tries again by itself."
            )
        state = secrets.token_urlsafe(24)
        params = {"client_id": self.client_id, "response_type": "code", "state": state}
        if self.callback_url:  # else the hub sends the browser where the service registered
            params["redirect_uri"] = self.callback_url
        query = urlencode(params)
        response = redirect(f"{self.hub_url}api/oauth2/authorize?{query}")
        cookie = self._sign(
            {"state": state, "next": safe_next(next_url, self.prefix)}, STATE_SECONDS
        )
        response.set_cookie(
            STATE_COOKIE,
            cookie,
            path=self.prefix,
            httponly=True,
            max_age=STATE_SECONDS,
            secure=self.secure(request),
            samesite="Lax",
        )
        return response

    async def _hub_answers(self) -> bool:
        """The hub's liveness, asked at most every 2 s; concurrent askers share one call."""
        return await self._hub_seen.get(None, self.hub.alive)

    async def callback(self, request: web.Request) -> web.Response:
        claims = self._read(request.cookies.get(STATE_COOKIE))
        state = request.query.get("state", "")
        if claims is None or not state or not hmac.compare_digest(state, str(claims.get("state"))):
            raise Forbidden("the login could not be verified (state mismatch); please log in again")
        code = request.query.get("code", "")
        token = (
            await self.hub.exchange_code(code, self.client_id, self.callback_url) if code else ""
        )
        user = await self.hub.user_for_token(token, api=False) if token else None
        if user is None:
            raise Forbidden("the hub did not confirm the login; please log in again")
        self._users.put(user.name, user)
        response = redirect(safe_next(str(claims.get("next")), self.prefix))
        response.del_cookie(STATE_COOKIE, path=self.prefix)
        self.set_session(response, request, user, hub_token=token)
        return response
