"""Signing in and out: the handlers of the Hub OAuth flow and of logout, and the logouts
of other replicas followed here."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from gateway import keys
from gateway.domain.store import Store
from gateway.errors import PodiumError
from gateway.hub.auth import Auth
from gateway.hub.requests import redirect
from gateway.web import api
from gateway.web.render import page

log = logging.getLogger("podium")


async def login(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    return await request.app[keys.AUTH].login_redirect(
        request, request.query.get("next", config.prefix)
    )


async def oauth_callback(request: web.Request) -> web.Response:
    return await request.app[keys.AUTH].callback(request)


async def service_oauth_callback(request: web.Request) -> web.Response:
    """The hub's default redirect for a service, ``/services/<name>/oauth_callback``: on to
    the gateway's own callback, where the browser sends the login's state cookie."""
    callback = request.app[keys.CONFIG].prefix + "_/oauth_callback"
    return redirect(f"{callback}?{request.query_string}" if request.query_string else callback)


async def logout_page(request: web.Request) -> web.Response:
    """Asks first: a logout is a POST with the XSRF value, which another site cannot send."""
    identity = request[api.IDENTITY]
    if identity.user is None:
        return redirect(request.app[keys.CONFIG].hub_url)
    site = request.app[keys.SITE]
    return page("logout.html", site, user=identity.user, xsrf=identity.xsrf, title="Log out")


async def logout(request: web.Request) -> web.Response:
    """Ends every session of this user (and their dashboards' cookies), on every replica."""
    response = redirect(request.app[keys.CONFIG].hub_url, status=303)
    identity = request[api.IDENTITY]
    if identity.user is not None and identity.via == "session":
        when = request.app[keys.AUTH].log_out(identity.user.name)
        await request.app[keys.STORE].record_logout(identity.user.name, when)
    request.app[keys.AUTH].clear_session(response)
    return response


async def follow_logouts(auth: Auth, store: Store, every: float = 2.0) -> None:
    """Logouts recorded by any replica end those sessions here too, within ``every`` s."""
    since = 0.0
    while True:
        try:
            for user, at in (await store.logouts_since(since)).items():
                auth.log_out(user, at)
                since = max(since, at)
        except PodiumError as e:  # the store is down: sessions go on; try again
            log.warning("cannot read logouts: %s", e.message)
        await asyncio.sleep(every)
