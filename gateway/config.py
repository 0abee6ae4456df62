"""``podium``'s configuration: a traitlets Application, as JupyterHub admins know it.

Options live in ``podium_config.py`` (``c.Podium.…``) or on the command line;
``podium --help-all`` lists them. Defaults come from the ``JUPYTERHUB_*``
environment the hub gives a managed service, so a managed Podium needs no
options at all.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from traitlets import Bool, Bytes, Dict, Enum, Float, Integer, List, Unicode, default, validate
from traitlets.config import Application, Configurable

from gateway.domain.secrets import KEY_ENV, Crypt, CryptKeyError
from gateway.domain.validation import Rules
from gateway.errors import Misconfigured
from gateway.front.origins import OriginError, Origins
from gateway.launchers.environments import Environment, EnvironmentOptions, for_launcher
from gateway.launchers.kube.options import KubeLauncher
from gateway.launchers.local import LocalLauncher
from gateway.outside import OutsideOptions
from runners import __version__
from runners.recipes import BUILT_IN

DEFAULT_FRAMEWORKS = list(BUILT_IN)  # every recipe but custom (runners/recipes.py)


class Podium(EnvironmentOptions, OutsideOptions, Application):
    name = "podium"
    version = __version__
    description = "Publish notebooks and apps from JupyterHub as shareable dashboards."

    config_file = Unicode("podium_config.py", help="The configuration file to load.").tag(
        config=True
    )

    prefix = Unicode(
        "/dashboards/",
        help="URL prefix of the gateway: dashboards live at <prefix><owner>/<name>/. "
        "Route it to the gateway with c.Proxy.extra_routes, or use the service prefix.",
    ).tag(config=True)

    dashboard_origin = Unicode(
        "",
        help="Where dashboards are served (required), apart from the hub and the gateway so "
        "that a dashboard's page can never act as its viewer. "
        "'https://{dashboard}.dash.example.org': each dashboard on its own origin (wildcard "
        "DNS and certificate; {dashboard} becomes a DNS label made of its name and owner); "
        "'https://dash.example.org': one separate origin for every dashboard (protects the "
        "hub and the gateway, not dashboards from each other); 'same-origin': on the hub's "
        "own origin, where a dashboard's script can use its viewer's hub and Podium sessions "
        "(only where every creator is trusted; a warning at every start). Requests for "
        "dashboard hosts must reach the gateway (docs/admin.md).",
    ).tag(config=True)
    public_url = Unicode(
        help="Where browsers reach the hub and the gateway, e.g. https://hub.example.org "
        "(default: $JUPYTERHUB_PUBLIC_URL's origin). Needed with dashboard_origin: a "
        "dashboard's origin sends people there to sign in.",
    ).tag(config=True)

    ip = Unicode(
        help="Address to listen on (default: from JUPYTERHUB_SERVICE_URL, else 127.0.0.1)."
    ).tag(config=True)
    port = Integer(help="Port to listen on (default: from JUPYTERHUB_SERVICE_URL, else 8765).").tag(
        config=True
    )

    hub_api_url = Unicode(help="The hub's REST API (default: $JUPYTERHUB_API_URL).").tag(
        config=True
    )
    hub_url = Unicode(
        help="Where browsers reach the hub, for the OAuth redirect "
        "(default: $JUPYTERHUB_PUBLIC_HUB_URL, else /hub/ on the same host)."
    ).tag(config=True)
    api_token = Unicode(
        help="The service's hub API token, also its OAuth client secret "
        "(default: $JUPYTERHUB_API_TOKEN)."
    ).tag(config=True)
    service_name = Unicode(
        help="The service's name in the hub: API tokens must give access to it "
        "(default: $JUPYTERHUB_SERVICE_NAME, else the client id without 'service-')."
    ).tag(config=True)
    client_id = Unicode(
        help="OAuth client id (default: $JUPYTERHUB_CLIENT_ID, else service-podium)."
    ).tag(config=True)
    oauth_callback_url = Unicode(
        "",
        help="Where the hub sends browsers back after a login. Best left unset: Podium then "
        "names no redirect_uri and the hub uses the one registered for the service (its "
        "oauth_redirect_uri), so the two cannot disagree; Podium answers both at "
        "<prefix>_/oauth_callback and at the hub's default /services/<name>/oauth_callback. "
        "($JUPYTERHUB_OAUTH_CALLBACK_URL is not used: JupyterHub sets it to the default "
        "even when the service registered another.)",
    ).tag(config=True)

    db_url = Unicode(
        "sqlite:///podium.sqlite",
        help="Where dashboards are stored: sqlite:///path or postgresql://user:pass@host/db.",
    ).tag(config=True)

    cookie_secret = Bytes(
        help="Key that signs session cookies (default: read or created in cookie_secret_file)."
    ).tag(config=True)
    cookie_secret_file = Unicode(
        "podium_cookie_secret",
        help="File holding the cookie secret; created (mode 600) if missing.",
    ).tag(config=True)
    crypt_key = Unicode(
        help="Encrypts dashboards' secrets (and private repositories' credentials) at rest: "
        "one or more 32-byte keys in hex (openssl rand -hex 32) or base64, separated by ';' "
        "(the first encrypts; put a new one first to rotate). Default: $PODIUM_CRYPT_KEY. "
        "Without one, creators cannot set secrets.",
    ).tag(config=True)
    session_max_age = Integer(
        24 * 3600,
        min=300,
        help="Seconds a login lasts without use; each visit to Podium's pages renews it "
        "(at most hourly), so people who keep using it stay logged in.",
    ).tag(config=True)
    user_refresh_interval = Integer(
        300,
        help="Seconds a hub user model (admin flag, groups) is trusted before it is fetched again: "
        "the bound on how long a group change or a deleted user takes to apply.",
    ).tag(config=True)
    token_cache_seconds = Integer(60, help="Seconds an API token's owner is cached.").tag(
        config=True
    )

    frameworks = List(Unicode(), DEFAULT_FRAMEWORKS, help="Frameworks creators may choose.").tag(
        config=True
    )
    public_enabled = Bool(
        False, help="Allow dashboards anyone can open without logging in (access mode 'public')."
    ).tag(config=True)
    creator_groups = List(
        Unicode(), [], help="Hub groups whose members may create dashboards (empty: every user)."
    ).tag(config=True)
    max_dashboards_per_user = Integer(
        50, min=0, help="Dashboards one creator may own (admins: no limit). 0: no limit."
    ).tag(config=True)
    max_running_per_user = Integer(
        10,
        min=0,
        help="Dashboards of one creator that may run at once (admins: no limit); a start over "
        "it is refused with the limit named. 0: no limit.",
    ).tag(config=True)
    creates_per_hour = Integer(
        60, min=0, help="Dashboards one creator may create in an hour. 0: no limit."
    ).tag(config=True)
    starts_per_hour = Integer(
        240,
        min=0,
        help="Starts of one creator's dashboards in an hour (by the owner or by visits; a "
        "crashed runner started again does not count). 0: no limit.",
    ).tag(config=True)
    idle_timeout = Integer(
        1800, help="Default seconds without a viewer before a dashboard stops."
    ).tag(config=True)
    idle_timeout_min = Integer(300, help="Smallest idle timeout a creator may choose.").tag(
        config=True
    )
    idle_timeout_max = Integer(86400, help="Largest idle timeout a creator may choose.").tag(
        config=True
    )
    git_allowed_schemes = List(
        Unicode(), ["https", "ssh"], help="Git transports creators may use."
    ).tag(config=True)
    git_internal_hosts = List(
        Unicode(),
        [],
        help="Git hosts that may be (or resolve to) internal addresses: loopback, link-local "
        "(the cloud's metadata server), private networks. Others are refused at create and "
        "again before each clone, so that a git URL cannot reach inside. E.g. an internal "
        "GitLab: ['gitlab.internal.example.org'].",
    ).tag(config=True)
    git_allowed_hosts = List(Unicode(), [], help="Git hosts creators may use (empty: any).").tag(
        config=True
    )
    max_body_size = Integer(1024 * 1024, help="Largest API request body, in bytes.").tag(
        config=True
    )

    max_websocket_message = Integer(
        32 * 2**20,
        min=0,
        help="Largest WebSocket message (in bytes, fragments added up) a viewer may send to "
        "a dashboard; a larger one closes the socket with code 1009. While a limit is set, "
        "WebSocket compression (permessage-deflate) is not offered to dashboards, so that "
        "sizes are real sizes. 0: no limit, compression allowed.",
    ).tag(config=True)

    viewer_request_rate = Float(
        100,
        min=0,
        help="Requests per second one viewer (a hub user; an anonymous visitor by address) "
        "may send to dashboards, sustained; more get 429 with Retry-After. 0: no limit.",
    ).tag(config=True)
    viewer_request_burst = Integer(
        1000, min=1, help="Requests one viewer may send at once before viewer_request_rate applies."
    ).tag(config=True)
    viewer_websockets = Integer(
        64, min=0, help="WebSockets to dashboards one viewer may hold open at once. 0: no limit."
    ).tag(config=True)

    check_interval = Float(
        5, help="Seconds between checks of running dashboards (crashed runners, idle timeouts)."
    ).tag(config=True)
    restart_crashed_after = Float(
        60,
        min=0,
        help="A running dashboard whose runner dies after running this many seconds is "
        "started again at once; one that dies sooner counts as a failed start, retried "
        "with backoff (5 s, doubling to 5 min) when a viewer opens it.",
    ).tag(config=True)
    activity_flush_interval = Float(
        30, help="Seconds between writes of viewer activity to the store (batched)."
    ).tag(config=True)

    proxy_api_url = Unicode(
        help="configurable-http-proxy's REST API (e.g. http://127.0.0.1:8001). When set, the "
        "gateway keeps its own route there, restoring it within route_check_interval after "
        "a proxy restart (the hub alone takes up to last_activity_interval)."
    ).tag(config=True)
    proxy_auth_token = Unicode(help="The proxy API token (default: $CONFIGPROXY_AUTH_TOKEN).").tag(
        config=True
    )
    proxy_target = Unicode(
        help="Where the proxy should send <prefix> (default: http://<ip>:<port>)."
    ).tag(config=True)
    route_check_interval = Float(2, help="Seconds between checks of the proxy route.").tag(
        config=True
    )

    supervise = Bool(
        True,
        help="Run the gateway in a child process and start it again at once when it dies "
        "(running dashboards are adopted, none is lost). Without it, a gateway killed or out "
        "of memory waits for whoever started it: JupyterHub notices a dead managed service "
        "only on its 30 s poll.",
    ).tag(config=True)

    launcher = Enum(
        ["local", "kubernetes"],
        "local",
        help="How dashboards run: 'local' (processes, c.LocalLauncher) or 'kubernetes' "
        "(pods, c.KubeLauncher).",
    ).tag(config=True)

    classes: list[type[Configurable]] = [LocalLauncher, KubeLauncher]  # noqa: RUF012

    aliases = Dict(
        {
            "f": "Podium.config_file",
            "config": "Podium.config_file",
            "ip": "Podium.ip",
            "port": "Podium.port",
            "db-url": "Podium.db_url",
            "prefix": "Podium.prefix",
        }
    )

    @default("public_url")
    def _public_url(self) -> str:
        parts = urlsplit(os.environ.get("JUPYTERHUB_PUBLIC_URL", ""))
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""

    @default("ip")
    def _ip(self) -> str:
        return urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).hostname or "127.0.0.1"

    @default("port")
    def _port(self) -> int:
        return urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "")).port or 8765

    @default("hub_api_url")
    def _hub_api_url(self) -> str:
        return os.environ.get("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api"

    @default("hub_url")
    def _hub_url(self) -> str:
        return os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL") or "/hub/"  # the hub sets it empty

    @default("api_token")
    def _api_token(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    @default("client_id")
    def _client_id(self) -> str:
        return os.environ.get("JUPYTERHUB_CLIENT_ID", "service-podium")

    @default("service_name")
    def _service_name(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_NAME") or self.client_id.removeprefix("service-")

    @default("proxy_auth_token")
    def _proxy_token(self) -> str:
        return os.environ.get("CONFIGPROXY_AUTH_TOKEN", "")

    @default("proxy_target")
    def _proxy_target(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @default("crypt_key")
    def _crypt_key(self) -> str:
        return os.environ.get(KEY_ENV, "")

    def crypt(self) -> Crypt | None:
        try:
            return Crypt.parse(self.crypt_key)
        except CryptKeyError as e:
            raise Misconfigured(f"c.Podium.crypt_key: {e}") from None

    @default("cookie_secret")
    def _cookie_secret(self) -> bytes:
        path = Path(self.cookie_secret_file)
        if path.exists():
            return bytes.fromhex(path.read_text().strip())
        secret = secrets.token_bytes(32)
        path.touch(mode=0o600)
        path.write_text(secret.hex())
        return secret

    @validate("prefix")
    def _valid_prefix(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if not value.startswith("/"):
            value = "/" + value
        return value if value.endswith("/") else value + "/"

    def origins(self) -> Origins:
        """The dashboard origins; a template that cannot work stops Podium at start."""
        if not self.dashboard_origin:
            raise Misconfigured(
                "c.Podium.dashboard_origin is not set: choose where dashboards are served. "
                "'https://{dashboard}.example-dashboards.net' gives each its own origin "
                "(wildcard DNS); 'https://example-dashboards.net' one origin apart from the "
                "hub; 'same-origin' keeps them on the hub's origin, where a dashboard's page "
                "can act as its viewer (docs/admin.md, 'Dashboard origins')"
            )
        try:
            origins = Origins.parse(self.dashboard_origin)
        except OriginError as e:
            raise Misconfigured(f"c.Podium.dashboard_origin: {e}") from None
        if origins.isolated and not urlsplit(self.public_url).netloc:
            raise Misconfigured(
                "c.Podium.dashboard_origin needs c.Podium.public_url (where browsers reach "
                "the hub, e.g. https://hub.example.org): dashboards send people there to sign in"
            )
        return origins

    def rules(self) -> Rules:
        return Rules(
            frameworks=tuple(self.frameworks),
            public_enabled=self.public_enabled,
            idle_default=self.idle_timeout,
            idle_min=self.idle_timeout_min,
            idle_max=self.idle_timeout_max,
            git_schemes=tuple(self.git_allowed_schemes),
            git_hosts=tuple(self.git_allowed_hosts),
            git_internal=tuple(self.git_internal_hosts),
            profiles=self.profile_names(),
            shared_volumes=self.shared_volume_names(),
            environments=tuple(e.name for e in self.environment_list()),
            crypt=self.crypt(),
        )

    def environment_list(self) -> list[Environment]:
        """The environments offered; one that cannot work stops Podium at start."""
        return for_launcher(self.launcher, self.environments, self.conda_envs_root)

    def profile_names(self) -> tuple[str, ...]:
        """The resource profiles creators may pick (``c.KubeLauncher.profiles``)."""
        if self.launcher != "kubernetes":
            return ()
        offered = self.config.KubeLauncher.get("profiles", [])
        return tuple(str(p.get("name", "")) for p in offered if p.get("name"))

    def shared_volume_names(self) -> tuple[str, ...]:
        """The volumes every user shares that a source may come from (hybrid storage):
        ``c.LocalLauncher.shared_folders`` or ``c.KubeLauncher.shared_volumes``."""
        if self.launcher == "kubernetes":
            return tuple(self.config.KubeLauncher.get("shared_volumes", {}))
        return tuple(self.config.LocalLauncher.get("shared_folders", {}))
