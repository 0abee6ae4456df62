"""The gateway's application factory and the ``podium`` command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from gateway import keys
from gateway.config import Podium
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.quotas import Quotas
from gateway.domain.service import DashboardService
from gateway.domain.shares import ShareLinks
from gateway.domain.store import Store
from gateway.domain.upgrades import move_git_credentials
from gateway.errors import Misconfigured
from gateway.front.door import FrontDoor
from gateway.front.handoff import CODE_PATH, Handoff
from gateway.front.origins import shares_the_hubs_domain
from gateway.front.passes import Passes
from gateway.hub.auth import Auth
from gateway.hub.client import Hub
from gateway.hub.requests import redirect
from gateway.hub.route import RouteKeeper
from gateway.hub.signin import (
    follow_logouts,
    login,
    logout,
    logout_page,
    oauth_callback,
    service_oauth_callback,
)
from gateway.launchers.base import Launcher
from gateway.launchers.local import LocalLauncher
from gateway.metrics import CONTENT_TYPE, configured
from gateway.supervisor import gateway_command, supervise
from gateway.web import api, shares, views, wakeup
from gateway.web.dashboard_hosts import dashboard_hosts, signin_code
from gateway.web.middleware import errors, identity
from gateway.web.render import STATIC, Site
from runners import __version__

log = logging.getLogger("podium")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "version": __version__})


async def to_prefix(request: web.Request) -> web.Response:
    """The hub's Services menu links to /services/<name>/: send people to the dashboards."""
    return redirect(request.app[keys.CONFIG].prefix)


def create_app(config: Podium) -> web.Application:
    """Wire routes, middlewares and one cleanup context per long-lived resource."""
    app = web.Application(
        middlewares=[errors, dashboard_hosts, identity], client_max_size=config.max_body_size
    )
    app[keys.CONFIG] = config
    app[keys.ORIGINS] = config.origins()
    app[keys.METRICS] = metrics = configured(config.metrics_per_dashboard, config.metrics_token)
    app[keys.HANDOFF] = Handoff(config.cookie_secret)
    app[keys.GATEWAY_HOSTS] = frozenset(
        name.lower()
        for name in (
            urlsplit(config.public_url).netloc,
            f"{config.ip}:{config.port}",
            urlsplit(config.proxy_target).netloc,
        )
        if name
    )
    app[keys.QUOTAS] = Quotas(
        config.max_dashboards_per_user,
        config.max_running_per_user,
        config.creates_per_hour,
        config.starts_per_hour,
    )
    if not app[keys.ORIGINS].isolated:
        log.warning(
            "dashboards are served on the hub's own origin (c.Podium.dashboard_origin = "
            "'same-origin'): a dashboard's page script can act as its viewer on the hub and in "
            "Podium. Give dashboards their own origin wherever creators are not all trusted "
            "(docs/admin.md, 'Dashboard origins')."
        )
    shared = shares_the_hubs_domain(app[keys.ORIGINS], config.public_url)
    if shared:
        log.warning(
            "dashboards are served under %s, the hub's own domain: a dashboard's page script "
            "can set cookies for %s that the hub and Podium read. Give dashboards a "
            "registrable domain of their own (docs/admin.md, 'Dashboard origins').",
            shared,
            shared,
        )
    app[keys.RULES] = config.rules()
    app[keys.SITE] = Site(config.prefix, config.hub_url)
    prefix = config.prefix

    async def client_and_hub(app: web.Application) -> AsyncIterator[None]:
        client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        hub = Hub(client, config.hub_api_url, config.api_token, service=config.service_name)
        app[keys.CLIENT] = client
        app[keys.HUB] = hub
        hub.on_call = metrics.hub_called
        await check_oauth_client(hub, config.client_id)
        app[keys.AUTH] = Auth(
            hub=hub,
            secret=config.cookie_secret,
            prefix=prefix,
            hub_url=config.hub_url,
            client_id=config.client_id,
            callback_url=config.oauth_callback_url,
            session_max_age=config.session_max_age,
            refresh_interval=config.user_refresh_interval,
            token_seconds=config.token_cache_seconds,
            https=config.public_url.lower().startswith("https://"),
        )
        yield
        await client.close()

    async def store(app: web.Application) -> AsyncIterator[None]:
        app[keys.STORE] = Store(config.db_url)
        metrics.watch(app[keys.STORE].engine)
        await app[keys.STORE].open()
        app[keys.SHARES] = ShareLinks(app[keys.STORE])
        app[keys.PASSES] = Passes(config.cookie_secret, app[keys.SHARES], config.share_links)
        await move_git_credentials(app[keys.STORE], config.crypt())
        app[keys.AUTH].on_hub_logout = app[keys.STORE].record_logout  # every replica follows
        task = asyncio.ensure_future(follow_logouts(app[keys.AUTH], app[keys.STORE]))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app[keys.STORE].close()

    async def runners(app: web.Application) -> AsyncIterator[None]:
        launcher = make_launcher(config)
        app[keys.LAUNCHER] = launcher
        lifecycle = Lifecycle(
            app[keys.STORE],
            launcher,
            config.cookie_secret,
            check_interval=config.check_interval,
            activity_interval=config.activity_flush_interval,
            restart_after=config.restart_crashed_after,
            owner_exists=app[keys.AUTH].user_exists,
        )
        app[keys.LIFECYCLE] = lifecycle
        lifecycle.on_status = metrics.status
        app[keys.SERVICE] = DashboardService(
            app[keys.STORE],
            lifecycle,
            launcher,
            app[keys.QUOTAS],
            app[keys.RULES],
            creator_groups=config.creator_groups,
            hub_groups=app[keys.HUB].groups,
            links=app[keys.SHARES],
        )
        await launcher.open()
        await lifecycle.run()
        yield
        await lifecycle.close()
        await launcher.close()

    async def route(app: web.Application) -> AsyncIterator[None]:
        if not config.proxy_api_url:
            yield
            return
        keeper = RouteKeeper(
            app[keys.CLIENT],
            config.proxy_api_url,
            config.proxy_auth_token,
            prefix,
            config.proxy_target,
        )
        task = asyncio.get_running_loop().create_task(keeper.run(config.route_check_interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(client_and_hub)
    app.cleanup_ctx.append(store)
    app.cleanup_ctx.append(runners)
    app.cleanup_ctx.append(route)

    app.router.add_get(prefix + "_/health", health)
    app.router.add_get(prefix + "_/metrics", serve_metrics)
    app.router.add_get(prefix + "_/login", login)
    app.router.add_get(prefix + "_/oauth_callback", oauth_callback)
    app.router.add_get(prefix + CODE_PATH, signin_code)  # dashboard origins' sign-in
    named = urlsplit(config.oauth_callback_url).path
    if named and named != prefix + "_/oauth_callback":
        app.router.add_get(named, oauth_callback)
    app.router.add_get("/services/{service}/oauth_callback", service_oauth_callback)
    app.router.add_get(prefix + "_/logout", logout_page)
    app.router.add_post(prefix + "_/logout", logout)
    api.add_routes(app, prefix)
    shares.add_routes(app, prefix)
    app.router.add_static(prefix + "_/static/", STATIC, append_version=False)
    views.add_routes(app, prefix)
    # The hub's Services menu links to /services/<name>/; only this service's requests come here.
    if not prefix.startswith("/services/"):
        app.router.add_get("/services/{service}/", to_prefix)
    wakeup.add_routes(app, prefix)
    return app


async def serve_metrics(request: web.Request) -> web.Response:
    """Prometheus's scrape: open, or for the bearer of c.Podium.metrics_token."""
    token = request.app[keys.CONFIG].metrics_token
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPUnauthorized(
                text="these metrics need c.Podium.metrics_token as a bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
    metrics = request.app[keys.METRICS]
    metrics.counted(await request.app[keys.STORE].statuses())
    return web.Response(
        body=metrics.exposition(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


async def check_oauth_client(hub: Hub, client_id: str) -> None:
    """Refuse to start when the hub refuses Podium's OAuth client: every login would end on
    the hub's error page. A hub that cannot be asked yet (started after Podium) is no reason
    to stop; its answer is only believed when it is clear."""
    known = await hub.knows_client(client_id)
    if known is False:
        raise Misconfigured(
            f"the hub refuses the OAuth client id {client_id!r} with this service's API token "
            "as its secret. The hub's c.JupyterHub.services entry for Podium must have "
            f"oauth_client_id={client_id!r} and the api_token Podium uses "
            "(c.Podium.client_id and c.Podium.api_token; a managed service gets both from "
            "the hub)."
        )
    if known is None:
        log.warning("could not check the OAuth client %r with the hub (not answering?)", client_id)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when installed (it is on Linux): a large share of the proxy's cost is the loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def make_launcher(config: Podium) -> Launcher:
    kind: type[Launcher] = LocalLauncher
    if config.launcher == "kubernetes":
        from gateway.launchers.kube.launcher import PodLauncher  # only then: 1.6 s of imports

        kind = PodLauncher
    launcher = kind(
        config.prefix,
        config.git_allowed_schemes,
        config.git_allowed_hosts,
        config.git_internal_hosts,
        parent=config,
    )
    launcher.crypt = config.crypt()
    launcher.environments = {e.name: e for e in config.environment_list()}
    # On Kubernetes only with a claim to cache layers on (c.KubeLauncher.layers_claim).
    if config.launcher == "local" or bool(getattr(launcher, "layers_claim", False)):
        launcher.requirements = config.requirements_policy()
    return launcher


async def serve(config: Podium) -> None:
    """The application on a private Unix socket, the front door on the public port."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    with tempfile.TemporaryDirectory(prefix="podium-") as private:  # mode 0700
        app_socket = os.path.join(private, "app.sock")
        await web.UnixSite(runner, app_socket).start()
        door = FrontDoor(runner.app, app_socket)
        await door.start(config.ip, config.port)
        # Everything loaded so far lives as long as the gateway: keep it out of the garbage
        # collector's full passes, which otherwise pause every proxied request now and then.
        gc.collect()
        gc.freeze()
        log.info("Podium %s at http://%s:%s%s", __version__, config.ip, config.port, config.prefix)
        try:
            await stop.wait()
        finally:
            log.info("stopping; running dashboards keep running")
            await door.stop()
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    config = Podium()
    config.initialize(argv)
    config.load_config_file(config.config_file)
    config.update_config(config.cli_config)  # the command line wins over the file
    logging.basicConfig(level=logging.INFO, format="[podium %(asctime)s %(name)s] %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not config.api_token:
        log.error("no hub API token: run Podium as a JupyterHub service or set c.Podium.api_token")
        return 2
    if config.supervise:
        return supervise(gateway_command(argv))
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        try:
            runner.run(serve(config))
        except Misconfigured as e:
            log.error("not starting: %s", e)
            return 2
    return 0
