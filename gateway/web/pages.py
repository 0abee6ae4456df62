"""The pages a dashboard's URL may answer with instead of the app: refusals and wake-up.

They are built here for the application (aiohttp responses) and for the front
door (whole HTTP responses as bytes), in the look of every other page.
"""

from __future__ import annotations

from aiohttp import web

from gateway.domain.access import User, can_manage
from gateway.domain.dashboards import Dashboard
from gateway.web.render import CSP, Site, page, render
from relay.http1 import REASONS, simple_response

RETRY_SECONDS = 10  # a "not available" page reloads itself this often
TITLES = {
    400: "Not understood",
    401: "Please log in",
    403: "Not shared with you",
    404: "Not found",
    405: "Not allowed",
    410: "No longer here",
    413: "Too large",
    429: "Too many",
    502: "Not answering",
    503: "Not available",
    504: "Not answering",
}


def refusal_page(
    site: Site, status: int, message: str, *, hint: str = "", user: User | None = None
) -> web.Response:
    """403/404/502… in the same look as every page, with a way back. A 503 (try again)
    says when with ``Retry-After`` and reloads itself then."""
    title = TITLES.get(status, "Something went wrong")
    retry = RETRY_SECONDS if status == 503 else 0
    response = page(
        "refusal.html", site, status=status, user=user,
        title=title, code=status, message=message, hint=hint, refresh_seconds=retry,
    )  # fmt: skip
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response


def error_bytes(
    site: Site, status: int, message: str, extra: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """:func:`refusal_page` as a whole HTTP response, for the front door (closes the connection)."""
    title = TITLES.get(status, "Something went wrong")
    document = render("refusal.html", site, title=title, code=status, message=message, hint="")
    return simple_response(
        status,
        REASONS.get(status, "Error"),
        document,
        content_type="text/html; charset=utf-8",
        extra=(("Content-Security-Policy", CSP), *extra),
    )


def forbidden_page(site: Site, dashboard: Dashboard, user: User) -> web.Response:
    return refusal_page(
        site, 403,
        f"“{dashboard.title}” belongs to {dashboard.owner}, who has not shared it with you "
        f"({user.name}).",
        hint=f"Ask {dashboard.owner} to add you, or a hub group you are in, to the people "
        "who may view it.",
        user=user,
    )  # fmt: skip


def viewers_word(status: str, message: str) -> str:
    """What a viewer is told of a start: the step, never its details (pip's output, the
    failure's reason: the owner's, on the manage page and in the log)."""
    if status == "failed":
        return "it could not start; its owner can see why"
    return message.split(":", 1)[0]


def progress_page(site: Site, dashboard: Dashboard, user: User | None) -> web.Response:
    """Shown while a dashboard starts; follows the start's events, then loads the app.
    Its owner (and admins) also get the log when the start fails."""
    one = dashboard.path
    owner_view = user is not None and can_manage(user, dashboard)
    said = dashboard.message
    response = page(
        "progress.html", site, status=202, user=user,
        title=f"Starting {dashboard.title}", d=dashboard,
        message=said if owner_view else viewers_word(dashboard.status, said),
        events_url=f"{site.prefix}_/api/dashboards/{one}/events",
        logs_url=f"{site.prefix}_/api/dashboards/{one}/logs?lines=100" if owner_view else "",
        manage_url=f"{site.prefix}_/manage/{one}",
    )  # fmt: skip
    response.headers["Retry-After"] = "2"
    return response
