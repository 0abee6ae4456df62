"""The application's middlewares: who is asking (and the XSRF check of the gateway's own
writes, the sliding renewal of sessions), and errors mapped to answers a person can act on."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway import keys
from gateway.errors import PodiumError, TooMany, Unauthenticated
from gateway.hub.auth import Identity
from gateway.metrics import is_metrics_token
from gateway.web import api
from gateway.web.pages import refusal_page

log = logging.getLogger("podium")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map the error tree (and aiohttp's own HTTP errors) to answers a person can act on:
    JSON for the API, a page for browsers, a line of text for other clients."""
    app = request.app
    api_call = request.path.startswith(app[keys.CONFIG].prefix + "_/api/")
    try:
        return await handler(request)
    except Unauthenticated as e:
        if api_call or request.method != "GET":
            return _error(request, e.status, e.message, api_call)
        try:
            return await app[keys.AUTH].login_redirect(request, request.path_qs)
        except PodiumError as down:
            return _error(request, down.status, down.message, api_call, down.as_json())
    except TooMany as e:
        response = _error(request, e.status, e.message, api_call, e.as_json())
        response.headers["Retry-After"] = str(e.retry_after)
        return response
    except PodiumError as e:
        return _error(request, e.status, e.message, api_call, e.as_json())
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _error(request, e.status, _REASONS.get(e.status, e.reason), api_call)
    except ConnectionResetError:
        raise  # the client went away: nobody to answer
    except Exception:
        # A bug, or a library error not translated where it entered: the log gets the
        # traceback, the person a reference to it (never the traceback itself).
        reference = secrets.token_hex(4)
        shown = request.path[:200]  # what was sent, bounded: a log line, not a copy of it
        log.exception("%s %s failed (reference %s)", request.method, shown, reference)
        message = f"Podium hit an unexpected error (reference {reference} in the gateway's log)"
        return _error(request, 500, message, api_call)


_REASONS = {404: "There is no such page.", 405: "This page does not take that method."}


def _error(
    request: web.Request,
    status: int,
    message: str,
    api_call: bool,
    body: dict[str, object] | None = None,
) -> web.Response:
    if api_call:
        return web.json_response(body or {"status": status, "message": message}, status=status)
    if wants_html(request):
        identity = request.get(api.IDENTITY)
        user = identity.user if identity else None
        return refusal_page(
            request.app[keys.SITE], status, message[:1].upper() + message[1:], user=user
        )
    return web.Response(status=status, text=f"{status}: {message}\n")


@web.middleware
async def identity(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[keys.CONFIG]
    if request.path == config.prefix + "_/metrics" or is_metrics_token(
        request.headers.get("Authorization", ""), config.metrics_token
    ):
        request[api.IDENTITY] = Identity(None, "anonymous")  # its own token, never the hub's
        return await handler(request)
    auth = request.app[keys.AUTH]
    who = await auth.identify(request)
    request[api.IDENTITY] = who
    if request.path.startswith(request.app[keys.CONFIG].prefix + "_/"):
        # The gateway's own writes; a dashboard's requests are the app's to protect.
        await auth.check_xsrf(request, who)
    response = await handler(request)
    if (
        who.via == "session"
        and who.user is not None
        and request.method == "GET"
        and not response.prepared
        and "Set-Cookie" not in response.headers
    ):
        session = auth.due_renewal(request)
        if session is not None:  # sliding: in use, so it lasts
            auth.set_session(response, request, who.user, renewing=session)
    return response
