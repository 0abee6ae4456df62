"""The path without configurable-http-proxy: an ingress controller straight to the gateway.

The chart's Ingress (``ingress.enabled``) sends dashboards' hosts to the gateway's
Service; ingress-nginx, the most common controller, is nginx with these defaults
(upstream keep-alive, HTTP/1.1 to the upstream, response buffering off, WebSocket
upgrades passed on, the ``X-Forwarded-*`` headers). nginx comes from Debian's package
(``apt-get download nginx``, unpacked into ``.tools/nginx``, run as this user, bound to
loopback); without it the path is left out and said so.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.paths import DASHBOARD, INGRESS, Setup, Target, background
from tests.support.hubstack import ROOT, free_port

NGINX = ROOT / ".tools" / "nginx" / "usr" / "sbin" / "nginx"

CONFIG = """
worker_processes 2;  # ingress-nginx: one per CPU
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream podium {{
    server 127.0.0.1:{gateway};
    keepalive 320;
    keepalive_requests 10000;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://podium;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"""


def nginx() -> Path | None:
    """nginx from Debian's package, unpacked once into .tools/ (None when not to be had)."""
    if NGINX.exists():
        return NGINX
    if not shutil.which("apt-get") or not shutil.which("dpkg"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(["apt-get", "download", "nginx"], cwd=tmp, capture_output=True)
        debs = list(Path(tmp).glob("nginx_*.deb"))
        if got.returncode != 0 or not debs:
            return None
        subprocess.run(["dpkg", "-x", str(debs[0]), str(NGINX.parents[2])], check=True)
    return NGINX if NGINX.exists() else None


@asynccontextmanager
async def ingress(s: Setup) -> AsyncIterator[None]:
    """nginx as ingress-nginx runs it, in front of the gateway (no proxy hop)."""
    binary = nginx()
    if binary is None:
        print("(no nginx to be had: the ingress path is left out)")
        yield
        return
    stack = s.stack
    where = stack.dir / "nginx"
    where.mkdir(exist_ok=True)
    port = free_port()
    config = where / "nginx.conf"
    config.write_text(CONFIG.format(dir=where, gateway=stack.podium_port, port=port))
    headers = s.targets["gateway hop"].headers
    s.targets[INGRESS] = Target(INGRESS, f"http://127.0.0.1:{port}{DASHBOARD}", headers)
    argv = [str(binary), "-e", "stderr", "-c", str(config), "-p", str(where)]
    async with background(stack, "nginx", argv, s.targets[INGRESS].base, headers):
        yield
