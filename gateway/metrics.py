"""Prometheus metrics at ``<prefix>_/metrics``: what the proxy forwards, starts and
wake-ups, the hub's and the store's latency, the caches.

Cardinality is bounded: no label names a viewer; a dashboard is named only when the admin
asks for it (``c.Podium.metrics_per_dashboard``, which then needs ``metrics_token``). One
registry per application (tests build several in one process).
"""

from __future__ import annotations

import bisect
import hmac
import itertools
import time
from collections import Counter as Counter_
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain.dashboards import STATUSES, Key
from gateway.errors import Misconfigured

CONTENT_TYPE = CONTENT_TYPE_LATEST
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
CACHES = ("identity", "dashboard")
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
WAKE = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 300)


class ProxyCounts(Collector):
    """What the front door counts on every request, in plain numbers (a few additions: a
    prometheus_client histogram's observe cost more than 4 µs a request), turned into
    metric families only when Prometheus scrapes."""

    def __init__(self) -> None:
        self.requests = [0] * len(CLASSES)
        self.seconds = [0.0] * len(CLASSES)
        self.buckets = [[0] * (len(FAST) + 1) for _ in CLASSES]
        self.by_dashboard: Counter_[str] = Counter_()
        self.websockets = 0
        self.lookups = {(cache, hit): 0 for cache in CACHES for hit in (True, False)}

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("podium_proxied_requests", "Requests forwarded to "
                                       "dashboards, by the status class of their answer",
                                       labels=["code"])  # fmt: skip
        latency = HistogramMetricFamily("podium_proxied_response_seconds",
                                        "From a forwarded request to its answer's head",
                                        labels=["code"])  # fmt: skip
        for i, code in enumerate(CLASSES):
            requests.add_metric([code], self.requests[i])
            cumulative = list(itertools.accumulate(self.buckets[i]))
            edges = [*(str(edge) for edge in FAST), "+Inf"]
            latency.add_metric([code], list(zip(edges, cumulative, strict=True)), self.seconds[i])
        yield requests
        yield latency
        per = CounterMetricFamily("podium_dashboard_requests", "Requests forwarded, per "
                                  "dashboard (c.Podium.metrics_per_dashboard)",
                                  labels=["dashboard"])  # fmt: skip
        for dashboard, count in self.by_dashboard.items():
            per.add_metric([dashboard], count)
        yield per
        yield GaugeMetricFamily("podium_websockets_open", "Viewers' WebSockets open",
                                value=self.websockets)  # fmt: skip
        lookups = CounterMetricFamily("podium_cache_lookups", "Lookups of the gateway's "
                                      "caches", labels=["cache", "result"])  # fmt: skip
        for (cache, hit), count in self.lookups.items():
            lookups.add_metric([cache, "hit" if hit else "miss"], count)
        yield lookups


class Metrics:
    def __init__(self, per_dashboard: bool = False) -> None:
        self.registry = r = CollectorRegistry()
        self.per_dashboard = per_dashboard
        self.proxy = ProxyCounts()
        r.register(self.proxy)
        self.starts = Counter("podium_starts", "Dashboard starts begun", registry=r)
        self.ready = Counter("podium_starts_ready", "Starts that became ready", registry=r)
        self.failures = Counter("podium_start_failures", "Starts that failed", registry=r)
        self.stops = Counter("podium_stops", "Dashboards stopped", registry=r)
        self.wakeup = Histogram("podium_wakeup_seconds", "From a start to its dashboard "
                                "being ready", buckets=WAKE, registry=r)  # fmt: skip
        self.dashboards = Gauge("podium_dashboards", "Dashboards by status", ["status"],
                                registry=r)  # fmt: skip
        self.hub = Histogram("podium_hub_request_seconds", "Calls to the hub's API, by what "
                             "they ask", ["call"], buckets=FAST, registry=r)  # fmt: skip
        self.store = Histogram("podium_store_query_seconds", "Database statements, by kind",
                               ["kind"], buckets=FAST, registry=r)  # fmt: skip
        self._began: dict[Key, float] = {}

    # --- the proxy (called per request: kept to a few operations) ---------------------------
    def answered(self, head: bytes, began: float, key: Key) -> None:
        """A forwarded request's answer head (``HTTP/1.1 200 OK…``) arrived."""
        i = head[9] - 49 if len(head) > 9 else -1  # "1" → 0 … "5" → 4
        if not 0 <= i < len(CLASSES):
            return
        seconds = time.monotonic() - began
        proxy = self.proxy
        proxy.requests[i] += 1
        proxy.seconds[i] += seconds
        proxy.buckets[i][bisect.bisect_left(FAST, seconds)] += 1
        if self.per_dashboard:
            proxy.by_dashboard[f"{key[0]}/{key[1]}"] += 1

    def looked_up(self, identity: bool, dashboard: bool) -> None:
        """The front door's caches knew the viewer (or not), and the dashboard (or not)."""
        lookups = self.proxy.lookups
        lookups[("identity", identity)] += 1
        lookups[("dashboard", dashboard)] += 1

    def websocket(self, opened: bool) -> None:
        self.proxy.websockets += 1 if opened else -1

    def hub_called(self, path: str, seconds: float) -> None:
        self.hub.labels(hub_call(path)).observe(seconds)

    def watch(self, engine: AsyncEngine) -> None:
        """Time every statement of the store's engine, by kind."""
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("podium_began", []).append(time.monotonic())

        @event.listens_for(sync, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            began = conn.info.get("podium_began")
            if began:
                self.store.labels(statement_kind(statement)).observe(time.monotonic() - began.pop())

    # --- the lifecycle -------------------------------------------------------------------
    def status(self, key: Key, status: str) -> None:
        """A dashboard's status was set (by this gateway)."""
        now = time.monotonic()
        if status == "starting":
            self.starts.inc()
            self._began[key] = now
        elif status == "ready":
            self.ready.inc()
            began = self._began.pop(key, None)
            if began is not None:
                self.wakeup.observe(now - began)
        elif status == "failed":
            self.failures.inc()
            self._began.pop(key, None)
        elif status == "stopped":
            self.stops.inc()
            self._began.pop(key, None)

    def counted(self, statuses: Mapping[str, int]) -> None:
        """How many dashboards are in each status, as the store has them (at each scrape)."""
        for status in STATUSES:
            self.dashboards.labels(status).set(statuses.get(status, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def is_metrics_token(authorization: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries the metrics token (wherever it is sent,
    by mistake too: it is asked of no hub)."""
    given = authorization.partition(" ")[2].strip()
    return bool(token and given) and hmac.compare_digest(given.encode(), token.encode())


def configured(per_dashboard: bool, token: str) -> Metrics:
    """The metrics as c.Podium.metrics_per_dashboard and metrics_token ask."""
    if per_dashboard and not token:
        raise Misconfigured(
            "c.Podium.metrics_per_dashboard names dashboards and their owners: it needs "
            "c.Podium.metrics_token"
        )
    return Metrics(per_dashboard)


def hub_call(path: str) -> str:
    """A bounded name for a hub API call: its first path segment (users, groups,
    authorizations, user, oauth2 …), never a username."""
    first = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return first if first.isidentifier() or first.replace("-", "").isalnum() else "other"


def statement_kind(statement: str) -> str:
    word = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else ""
    return word if word in ("select", "insert", "update", "delete") else "other"
