"""Podium's configuration in the demo. Everything about the hub comes from the environment
the hub gives a managed service (JUPYTERHUB_API_TOKEN, JUPYTERHUB_API_URL, …); the proxy's
API and token come from the service's environment in jupyterhub_config.py."""

import os
import secrets
from pathlib import Path

here = os.environ["PODIUM_DEMO_DIR"]
c = get_config()  # noqa: F821
c.Podium.db_url = f"sqlite:///{here}/podium.sqlite"
c.Podium.cookie_secret_file = f"{here}/podium_cookie_secret"
c.LocalLauncher.user_root = f"{here}/home/{{username}}"
c.LocalLauncher.state_dir = f"{here}/runners"
c.Podium.proxy_api_url = os.environ["PODIUM_PROXY_API_URL"]  # the token: $CONFIGPROXY_AUTH_TOKEN
# Every dashboard on its own origin: its page can never act as its viewer (docs/admin.md).
c.Podium.public_url = os.environ["PODIUM_DEMO_PUBLIC_URL"]
c.Podium.dashboard_origin = os.environ["PODIUM_DEMO_DASHBOARD_ORIGIN"]
# Creators' secrets are encrypted with this key (production: $PODIUM_CRYPT_KEY from a secret
# store, never next to the database; docs/admin.md, Secrets).
key = Path(here) / "podium_crypt_key"
if not key.exists():
    key.touch(mode=0o600)
    key.write_text(secrets.token_hex(32))
c.Podium.crypt_key = key.read_text().strip()
