"""The Podium demo: JupyterHub with configurable-http-proxy, Podium as a managed service.

Started by `make demo` (scripts/demo), which sets PODIUM_DEMO_* below. Users alice, bob, carol
and admin share one password; the group analysts holds bob.
"""

import os
import secrets
import sys
from pathlib import Path

here = Path(os.environ["PODIUM_DEMO_DIR"])
repo = Path(os.environ["PODIUM_REPO"])
port = int(os.environ.get("PODIUM_DEMO_PORT", "8000"))
hub_port = int(os.environ.get("PODIUM_DEMO_HUB_PORT", "8081"))
proxy_api = f"http://127.0.0.1:{os.environ.get('PODIUM_DEMO_PROXY_API_PORT', '8001')}"
gateway = f"http://127.0.0.1:{os.environ.get('PODIUM_DEMO_GATEWAY_PORT', '8765')}"

# The proxy's API token, kept across restarts: Podium uses it to keep its route.
token_file = here / "proxy_token"
if not token_file.exists():
    token_file.touch(mode=0o600)
    token_file.write_text(secrets.token_hex(32))
proxy_token = token_file.read_text().strip()

c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = port
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub_port
c.JupyterHub.db_url = f"sqlite:///{here}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = str(here / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [str(repo / "node_modules" / ".bin" / "configurable-http-proxy")]
# warn: the proxy logs every API call at info, and Podium checks its route every 2 s
c.ConfigurableHTTPProxy.log_level = "warn"
c.ConfigurableHTTPProxy.pid_file = str(here / "proxy.pid")
c.ConfigurableHTTPProxy.api_url = proxy_api
c.ConfigurableHTTPProxy.auth_token = proxy_token

c.JupyterHub.authenticator_class = "dummy"
# The demo is about dashboards: after logging in at the hub, people land in Podium.
c.JupyterHub.default_url = "/dashboards/"
# Each user's JupyterLab (the hub home's "Start My Server"), to publish from its file
# browser: the demo's users are not accounts of this machine, so their servers run as you,
# each in its folder of .demo/home (the storage Podium runs their files from), from the
# environment of a user image (.venv-user: JupyterLab and jupyterlab-podium). Keep the demo
# on loopback: those servers can do what you can.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(here / "home" / "{username}")
user_bin = Path(os.environ["PODIUM_USER_VENV"]) / "bin"
c.Spawner.cmd = [str(user_bin / "jupyterhub-singleuser")]
c.Spawner.environment = {"PATH": f"{user_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # podium
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.default_url = "/lab"
c.DummyAuthenticator.password = os.environ.get("PODIUM_DEMO_PASSWORD", "podium")
c.Authenticator.allowed_users = {"alice", "bob", "carol", "admin"}
c.Authenticator.admin_users = {"admin"}
c.JupyterHub.load_groups = {"analysts": {"users": ["bob"]}}

# Podium as a managed service: the hub starts it and hands it its token and OAuth client.
# Podium names no redirect_uri when it sends people to log in: the hub uses the one below.
c.JupyterHub.services = [
    {
        "name": "podium",
        "display": True,
        "url": gateway,
        "command": [
            str(Path(sys.executable).parent / "podium"),
            "-f",
            str(repo / "demo" / "podium_config.py"),
        ],
        "cwd": str(here),
        "oauth_no_confirm": True,
        "oauth_client_id": "service-podium",
        "oauth_redirect_uri": "/dashboards/_/oauth_callback",
        "environment": {
            "PODIUM_DEMO_DIR": str(here),
            # The proxy's API: Podium puts /dashboards/ back within seconds when the proxy
            # restarts (the hub itself restores extra_routes only every 5 minutes).
            "PODIUM_PROXY_API_URL": proxy_api,
            "CONFIGPROXY_AUTH_TOKEN": proxy_token,
            # Each dashboard on its own origin, http://<name>--<owner>.localhost:<gateway's
            # port> (browsers send any name under localhost to this machine; no DNS set-up),
            # straight to the gateway: the hub answers nothing on a dashboard's origin.
            "PODIUM_DEMO_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PODIUM_DEMO_DASHBOARD_ORIGIN": gateway.replace("127.0.0.1", "{dashboard}.localhost"),
        },
    },
    {"name": "demo-seed", "api_token": os.environ["PODIUM_DEMO_SEED_TOKEN"]},
]
c.JupyterHub.load_roles = [
    # Every user may log in to Podium (the hub's OAuth needs access:services); their servers
    # call Podium with their own token and find it among the hub's services (docs/admin.md).
    {
        "name": "user",
        "scopes": ["self", "access:services!service=podium", "read:services!service=podium"],
    },
    {
        "name": "server",
        "scopes": [
            "users:activity!user",
            "access:servers!server",
            "access:services!service=podium",
            "read:services!service=podium",
        ],
    },
    # Podium reads users and groups to decide access.
    {
        "name": "podium",
        "services": ["podium"],
        "scopes": ["read:users", "read:users:groups", "read:groups", "list:users", "list:groups"],
    },
    # The demo's seeding step creates a token for alice to publish the examples.
    {"name": "demo-seed", "services": ["demo-seed"], "scopes": ["tokens"]},
]
# The pretty route, added at start; after a proxy restart Podium itself restores it.
c.Proxy.extra_routes = {"/dashboards/": gateway}
