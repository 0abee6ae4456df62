"""The gateway's own pages: the gallery, the create and edit form, the manage page.

Handlers only: what a page shows is in ``gateway/web/templates``, how form fields
map to the API's document in ``gateway.web.forms``, and every change goes through
the same service as the REST API (``gateway.domain.service``), so both accept and
refuse exactly the same things.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from gateway import keys
from gateway.domain.access import User, can_create, can_manage
from gateway.domain.dashboards import Dashboard
from gateway.domain.validation import problems
from gateway.errors import Conflict, Invalid, NotFound, PodiumError, TooMany
from gateway.hub.requests import redirect
from gateway.web import api, shares
from gateway.web.forms import (
    LABELS,
    access_choices,
    access_text,
    form_errors,
    from_form,
    to_document,
    to_values,
)
from gateway.web.render import page
from runners.names import owner_segment

VIEW_DAYS = 7


def manage_url(prefix: str, d: Dashboard) -> str:
    return f"{prefix}_/manage/{d.path}"


def _render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    user = api.current_user(request)
    config = request.app[keys.CONFIG]
    return page(
        template,
        request.app[keys.SITE],
        status=status,
        user=user,
        can_create=user is not None and can_create(user, config.creator_groups),
        xsrf=request[api.IDENTITY].xsrf,
        **context,
    )


# --- the gallery -------------------------------------------------------------------------
def card(d: Dashboard, user: User, prefix: str) -> dict[str, Any]:
    return {
        "owner": d.owner,
        "name": d.name,
        "title": d.title or d.name,
        "description": d.description,
        "framework": d.framework,
        "status": d.status,
        "url": d.url(prefix),
        "manage_url": manage_url(prefix, d) if can_manage(user, d) else "",
    }


def sections(user: User, found: list[Dashboard], prefix: str) -> list[dict[str, Any]]:
    """Mine; shared with me (by name, group or the whole hub); public ones of others."""
    mine = [d for d in found if d.owner == user.name]
    public = [d for d in found if d.owner != user.name and d.access.mode == "public"]
    shared = [d for d in found if d.owner != user.name and d.access.mode != "public"]
    return [
        {"id": "mine", "title": "My dashboards", "items": [card(d, user, prefix) for d in mine],
         "empty": "You have not published a dashboard yet."},
        {"id": "shared", "title": "Shared with me",
         "items": [card(d, user, prefix) for d in shared],
         "empty": "Nothing is shared with you yet."},
        {"id": "public", "title": "Public", "items": [card(d, user, prefix) for d in public],
         "empty": "No public dashboards."},
    ]  # fmt: skip


async def gallery(request: web.Request) -> web.Response:
    user = api.signed_in(request)
    prefix = request.app[keys.CONFIG].prefix
    found = await request.app[keys.SERVICE].listed(user)
    return _render(
        request, "gallery.html", title="Dashboards", active="gallery",
        sections=sections(user, found, prefix),
        frameworks=sorted({d.framework for d in found}),
        owners=sorted({d.owner for d in found}),
    )  # fmt: skip


# --- the form ----------------------------------------------------------------------------
async def _pickers(request: web.Request, owner: str) -> tuple[list[str] | None, list[str]]:
    """Hub users (None when the hub does not list them: a text field instead) and groups."""
    hub = request.app[keys.HUB]
    users: list[str] | None
    try:
        users = sorted((await hub.users()) - {owner})
    except PodiumError:
        users = None
    try:
        groups = sorted(await hub.groups())
    except PodiumError:
        groups = []
    return users, groups


async def _form(
    request: web.Request,
    *,
    owner: str,
    values: dict[str, Any],
    errors: dict[str, str],
    current: Dashboard | None = None,
) -> web.Response:
    config = request.app[keys.CONFIG]
    rules = request.app[keys.RULES]
    users, groups = await _pickers(request, owner)
    browse, storage_note = False, ""
    user = api.current_user(request)
    if user is not None and user.name == owner:  # the picker lists the caller's own storage
        try:
            browse = await request.app[keys.LAUNCHER].browse(owner, "") is not None
        except NotFound:
            storage_note = (
                "You have no storage here yet: start your server in JupyterHub once, "
                "or publish from a git repository."
            )
        except PodiumError:
            pass  # the launcher cannot list it: the folder field still works
    idle = f"Between {rules.idle_min // 60} and {rules.idle_max // 60} minutes."
    if current is None:
        heading, action, submit, cancel = (
            "New dashboard",
            f"{config.prefix}_/new",
            "Create",
            config.prefix,
        )
    else:
        heading = f"Edit {current.title}"
        action = f"{config.prefix}_/edit/{current.path}"
        submit, cancel = "Save", manage_url(config.prefix, current)
    if current is not None:  # the form sent back with its errors still lists what is kept
        kept = to_values(current)
        values = {"secret_names": kept["secret_names"], "git_credentials": kept["git_credentials"],
                  **values}  # fmt: skip
    return _render(
        request, "form.html", status=400 if errors else 200,
        title=heading, heading=heading, active="new" if current is None else "",
        creating=current is None, action=action, submit=submit, cancel=cancel,
        values=values, errors=errors, labels=LABELS, owner=owner,
        link_base=f"{config.prefix}{owner_segment(owner)}/",
        frameworks=list(rules.frameworks), profiles=list(rules.profiles),
        shared_volumes=list(rules.shared_volumes),
        environments=list(request.app[keys.LAUNCHER].environments.values()),
        access_modes=access_choices(rules), users=users, groups=groups,
        browse=browse, storage_note=storage_note, files_url=f"{config.prefix}_/api/files",
        git_schemes=", ".join(rules.git_schemes), idle_help=idle,
        secrets_help=(
            "One NAME=value per line, given to the app as environment variables. Values are "
            "kept encrypted and never shown again; names not written here stay as they are."
            if rules.crypt
            else "This hub keeps no secrets: the admin has not set an encryption key."
        ),
    )  # fmt: skip


async def _missing(request: web.Request, owner: str, doc: dict[str, Any]) -> dict[str, str]:
    """The entry is not a file of the owner's storage (when the gateway can see it)."""
    source = doc.get("source", {})
    if source.get("type") != "storage" or doc.get("framework") == "custom" or not doc.get("entry"):
        return {}
    folder, volume = source.get("path", ""), source.get("volume", "")
    found = await request.app[keys.LAUNCHER].has_file(
        owner, posixpath.join(folder, doc["entry"]), volume
    )
    if found is False:
        where = f"the folder {folder}" if folder else "the top folder"
        storage = f"the shared volume {volume}" if volume else "your storage"
        return {"entry": f"there is no file {doc['entry']} in {where} of {storage}"}
    return {}


async def _check(
    request: web.Request, user: User, owner: str, current: Dashboard | None
) -> tuple[dict[str, Any], dict[str, str], Any]:
    form = await request.post()
    doc, errors = to_document(form, creating=current is None)
    rules = request.app[keys.RULES]
    source_type = doc["source"]["type"]
    found = problems(doc, owner, rules, admin=user.admin, current=current)
    errors = {**form_errors(found, source_type, rules), **errors}
    if not errors:
        errors = await _missing(request, owner, doc)
    return doc, errors, form


def _refused(request: web.Request, error: PodiumError, doc: dict[str, Any]) -> dict[str, str]:
    rules = request.app[keys.RULES]
    return form_errors({error.field or "form": error.message}, doc["source"]["type"], rules)


async def new_form(request: web.Request) -> web.Response:
    user = api.signed_in(request)
    request.app[keys.SERVICE].check_can_create(user)
    values: dict[str, Any] = {"idle_minutes": str(request.app[keys.RULES].idle_default // 60)}
    return await _form(request, owner=user.name, values=values, errors={})


async def new_submit(request: web.Request) -> web.Response:
    user = api.signed_in(request)
    service = request.app[keys.SERVICE]
    service.check_can_create(user)
    doc, errors, form = await _check(request, user, user.name, None)
    if not errors:
        try:
            dashboard = await service.create(user, doc)
        except (Invalid, Conflict, TooMany) as e:  # a group deleted, the name taken, a quota
            errors = _refused(request, e, doc)
        else:
            if form.get("start"):
                await service.start(dashboard, exempt=user.admin)
            return redirect(manage_url(request.app[keys.CONFIG].prefix, dashboard), status=303)
    return await _form(request, owner=user.name, values=from_form(form), errors=errors)


async def edit_form(request: web.Request) -> web.Response:
    current = await api.managed(request)
    return await _form(
        request, owner=current.owner, values=to_values(current), errors={}, current=current
    )


async def edit_submit(request: web.Request) -> web.Response:
    current = await api.managed(request)
    user = api.signed_in(request)
    doc, errors, form = await _check(request, user, current.owner, current)
    if not errors:
        try:
            changed = await request.app[keys.SERVICE].change(user, current, doc)
        except Invalid as e:
            errors = _refused(request, e, doc)
        else:
            return redirect(manage_url(request.app[keys.CONFIG].prefix, changed), status=303)
    values = {**from_form(form), "name": current.name}
    return await _form(request, owner=current.owner, values=values, errors=errors, current=current)


# --- the manage page ---------------------------------------------------------------------
async def _log(request: web.Request, d: Dashboard) -> str:
    """The log's tail for the first paint (the page then follows it); empty if slow."""
    with contextlib.suppress(Exception):
        lines = await asyncio.wait_for(request.app[keys.SERVICE].logs(d, 200), 3)
        return "\n".join(lines)
    return ""


async def manage(request: web.Request) -> web.Response:
    return await _manage_page(request, await api.managed(request))


async def _manage_page(request: web.Request, d: Dashboard, new_link: str = "") -> web.Response:
    """The manage page; ``new_link``: a share link just made (shown this once)."""
    prefix = request.app[keys.CONFIG].prefix
    today = datetime.now(UTC).date()
    counted = await request.app[keys.STORE].views(d.owner, d.name, today - timedelta(VIEW_DAYS - 1))
    views = [(today - timedelta(n), counted.get(today - timedelta(n), 0)) for n in range(VIEW_DAYS)]
    if d.source.type == "git":
        source = f"git {d.source.url}" + (f" at {d.source.ref}" if d.source.ref else "")
        source += f", folder {d.source.path}" if d.source.path else ""
    else:
        where = f"shared volume {d.source.volume}" if d.source.volume else f"{d.owner}'s storage"
        source = f"{where}, folder {d.source.path or '(top)'}"
    offered = list(request.app[keys.LAUNCHER].environments)
    environment = d.environment or (f"{offered[0]} (the default)" if offered else "")
    layer = await request.app[keys.LAUNCHER].layer(d)
    layer_text = (f"layer {layer.get('key', '')[:12]}, installed {layer.get('built', '')}"
                  if layer else "")  # fmt: skip
    return _render(
        request, "manage.html", title=f"Manage {d.title}", d=d, link=d.url(prefix),
        api_url=f"{prefix}_/api/dashboards/{d.path}",
        action_url=manage_url(prefix, d), edit_url=f"{prefix}_/edit/{d.path}",
        access_text=access_text(d.access.mode, request.app[keys.RULES].public_enabled, d.owner),
        views=[(day.isoformat(), count) for day, count in views],
        views_max=max([1, *(count for _, count in views)]),
        source_text=source, environment=environment, layer_text=layer_text,
        log=await _log(request, d),
        idle_text=f"after {d.idle_timeout // 60} min" if d.idle_timeout else "never (always on)",
        **await shares.page_links(request, d), new_link=new_link,
    )  # fmt: skip


async def manage_action(request: web.Request) -> web.Response:
    d = await api.managed(request)
    form = await request.post()
    action = form.get("action", "")
    service = request.app[keys.SERVICE]
    prefix = request.app[keys.CONFIG].prefix
    if action == "start":
        await service.start(d, exempt=api.signed_in(request).admin)
    elif action == "stop":
        await service.stop(d)
    elif action in ("restart", "rebuild"):
        await service.restart(d, rebuild=action == "rebuild")
    elif action == "delete":
        await service.remove(d)
        return redirect(prefix, status=303)
    elif action in ("share", "unshare"):
        made = await shares.page_action(request, d, action, form)
        if made:  # its token, shown this once: not behind a redirect
            return await _manage_page(request, d, new_link=made)
    else:
        raise Invalid(
            "action must be start, stop, restart, rebuild, delete, share or unshare",
            field="action",
        )
    return redirect(manage_url(prefix, d), status=303)


def add_routes(app: web.Application, prefix: str) -> None:
    one = "{owner}/{name}"
    app.router.add_get(prefix, gallery)
    app.router.add_get(prefix + "_/new", new_form)
    app.router.add_post(prefix + "_/new", new_submit)
    app.router.add_get(prefix + "_/edit/" + one, edit_form)
    app.router.add_post(prefix + "_/edit/" + one, edit_submit)
    app.router.add_get(prefix + "_/manage/" + one, manage)
    app.router.add_post(prefix + "_/manage/" + one, manage_action)
