"""Dashboard origins: the DNS label of each dashboard, and which host is whose."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.front.origins import (
    NO_DASHBOARD,
    OriginError,
    Origins,
    dashboard_label,
    shares_the_hubs_domain,
)

pytestmark = pytest.mark.unit
DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
NAMES = st.from_regex(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", fullmatch=True)
# What JupyterHub accepts as a username: not empty, no "/", no space at either end.
USERNAMES = st.text(min_size=1, max_size=80).filter(lambda u: "/" not in u and u == u.strip())


@pytest.mark.parametrize(
    ("owner", "name", "label"),
    [
        ("alice", "sales", "sales--alice"),
        ("x-y", "a-b", "a-b--x-y"),
        ("12345", "q3", "q3--12345"),
    ],
)
def test_plain_names_give_readable_labels(owner: str, name: str, label: str) -> None:
    assert dashboard_label(owner, name) == label


@pytest.mark.parametrize(
    ("owner", "readable"),
    [
        ("jane.doe@example.org", "q3--jane-doe-example-org---"),
        ("o'neil", "q3--o-neil---"),
        ("a+b", "q3--a-b---"),
        ("ünï", "q3--uni---"),
        ("x_y-z", "q3--x-y-z---"),
        ("Alice", "q3--alice---"),  # not the same dashboard as alice's
        ("a--b", "q3--a-b---"),
        ("日本", "q3--u---"),
    ],
)
def test_other_names_give_a_readable_part_and_a_hash(owner: str, readable: str) -> None:
    label = dashboard_label(owner, "q3")
    assert label.startswith(readable) and re.fullmatch(r"[0-9a-f]{16}", label[len(readable) :])
    assert DNS_LABEL.match(label)


@given(USERNAMES, NAMES)
def test_every_label_is_one_dns_label(owner: str, name: str) -> None:
    label = dashboard_label(owner, name)
    assert DNS_LABEL.match(label) and len(label) <= 63
    assert dashboard_label(owner, name) == label  # stable


@given(st.lists(st.tuples(USERNAMES, NAMES), min_size=2, max_size=40, unique=True))
def test_labels_are_unique(dashboards: list[tuple[str, str]]) -> None:
    labels = {dashboard_label(owner, name) for owner, name in dashboards}
    assert len(labels) == len(dashboards)


def test_a_plain_label_is_never_a_hashed_one() -> None:
    # sales--alice is plain; a name and owner whose hashed form starts the same are not it.
    assert dashboard_label("alice", "sales") != dashboard_label("alice", "sales--alice")
    assert "---" not in dashboard_label("a-b", "c-d")


def test_one_origin_per_dashboard() -> None:
    origins = Origins.parse("https://{dashboard}.Dashboards.example.org")
    assert origins.isolated and origins.per_dashboard
    assert origins.origin("alice", "sales") == "https://sales--alice.dashboards.example.org"
    assert origins.host_label("SALES--alice.dashboards.example.org") == "sales--alice"
    assert origins.serves("sales--alice.dashboards.example.org", "alice", "sales")
    assert not origins.serves("sales--alice.dashboards.example.org", "alice", "other")
    assert origins.host_label("hub.example.org") is None
    # Every name under the dashboards' domain is a dashboard host; the others serve nothing.
    assert origins.host_label("a.sales--alice.dashboards.example.org") == NO_DASHBOARD
    assert not origins.serves("a.sales--alice.dashboards.example.org", "alice", "sales")
    assert origins.host_label(".dashboards.example.org") == NO_DASHBOARD
    assert origins.host_label("sales--alice.dashboards.example.org.") == "sales--alice"


def test_one_shared_dashboard_origin() -> None:
    origins = Origins.parse("http://dashboards.localhost:8000")
    assert origins.isolated and not origins.per_dashboard
    assert origins.origin("alice", "sales") == "http://dashboards.localhost:8000"
    assert origins.serves("dashboards.localhost:8000", "anyone", "anything")
    assert origins.serves("dashboards.localhost.:8000", "anyone", "anything")  # trailing dot
    assert origins.host_label("127.0.0.1:8000") is None


def test_same_origin_is_the_gateways() -> None:
    origins = Origins.parse("same-origin")
    assert not origins.isolated and origins.origin("alice", "sales") == ""
    assert origins.host_label("anything") is None


@pytest.mark.parametrize(
    "template",
    [
        "ftp://{dashboard}.x.org",
        "{dashboard}.x.org",
        "https://x.{dashboard}.org",
        "https://{dashboard}-x.org",
        "https://{dashboard}.x.org/dashboards/",
        "https://{dashboard}.{dashboard}.org",
        "https://{owner}.x.org",
        "https://u@{dashboard}.x.org",
    ],
)
def test_unusable_templates_are_refused(template: str) -> None:
    with pytest.raises(OriginError):
        Origins.parse(template)


@pytest.mark.unit
def test_cookies_on_https_dashboard_origins_are_host_only_by_name() -> None:
    """``__Host-``: browsers refuse such a cookie from a sibling host (``Domain=``) or over
    plain http, so no other dashboard can plant one."""
    assert Origins.parse("https://{dashboard}.d.example.net").cookie("podium-dashboard") == (
        "__Host-podium-dashboard"
    )
    assert Origins.parse("http://{dashboard}.localhost:8765").cookie("podium-dashboard") == (
        "podium-dashboard"
    )  # http: the rule needs Secure
    shared = Origins.parse("https://dashboards.example.net")
    assert shared.cookie("podium-dashboard") == "podium-dashboard"  # a path per dashboard


@pytest.mark.parametrize(
    ("template", "public_url", "shared"),
    [
        ("https://{dashboard}.dashboards.example.org", "https://hub.example.org", "example.org"),
        ("https://dashboards.example.org", "https://hub.example.org", "example.org"),
        ("https://{dashboard}.example-dashboards.net", "https://hub.example.org", ""),
        ("http://{dashboard}.localhost:8765", "http://127.0.0.1:8000", ""),  # the demo
        ("same-origin", "https://hub.example.org", ""),
    ],
)
def test_dashboards_under_the_hubs_domain_are_told_at_start(
    template: str, public_url: str, shared: str
) -> None:
    assert shares_the_hubs_domain(Origins.parse(template), public_url) == shared
