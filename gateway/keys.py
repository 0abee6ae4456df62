"""Typed application state: every long-lived object of the gateway, one key each."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from gateway.config import Podium
from gateway.domain.lifecycle import Lifecycle
from gateway.domain.quotas import Quotas
from gateway.domain.service import DashboardService
from gateway.domain.shares import ShareLinks
from gateway.domain.store import Store
from gateway.domain.validation import Rules
from gateway.front.handoff import Handoff
from gateway.front.origins import Origins
from gateway.front.passes import Passes
from gateway.hub.auth import Auth
from gateway.hub.client import Hub
from gateway.launchers.base import Launcher
from gateway.metrics import Metrics
from gateway.web.render import Site

CONFIG = web.AppKey("config", Podium)
RULES = web.AppKey("rules", Rules)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
HUB = web.AppKey("hub", Hub)
AUTH = web.AppKey("auth", Auth)
STORE = web.AppKey("store", Store)
LAUNCHER = web.AppKey("launcher", Launcher)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
SITE = web.AppKey("site", Site)
ORIGINS = web.AppKey("origins", Origins)
HANDOFF = web.AppKey("handoff", Handoff)
QUOTAS = web.AppKey("quotas", Quotas)
SERVICE = web.AppKey("service", DashboardService)
METRICS = web.AppKey("metrics", Metrics)
SHARES = web.AppKey("shares", ShareLinks)
PASSES = web.AppKey("passes", Passes)
# With dashboard origins, the Host values the gateway's own pages answer to: the public
# URL's, its listening address, the proxy's target for it.
GATEWAY_HOSTS = web.AppKey("gateway_hosts", frozenset[str])
