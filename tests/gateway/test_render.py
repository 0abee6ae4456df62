"""Every page renders, escapes what people typed, and carries the strict CSP."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from gateway.domain.access import User
from gateway.domain.dashboards import Access, Dashboard
from gateway.web.pages import error_bytes, forbidden_page, progress_page, refusal_page
from gateway.web.render import CSP, STATIC, Site, render
from gateway.web.views import card, sections

pytestmark = pytest.mark.unit

SITE = Site("/dashboards/", "/hub/")
EVIL = '<script>alert("x")</script>'
ALICE = User("alice")
BOB = User("bob", groups=frozenset({"analysts"}))


def dashboard(**change: object) -> Dashboard:
    fields: dict[str, object] = {
        "owner": "alice", "name": "sales", "framework": "streamlit", "entry": "app.py",
        "title": EVIL, "description": EVIL, "access": Access("restricted", groups=("analysts",)),
    }  # fmt: skip
    fields.update(change)
    return Dashboard(**fields)  # type: ignore[arg-type]


def no_injection(html: str) -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    assert not [s for s in soup.find_all("script") if not s.get("src")], "no inline script"
    assert "<script>alert" not in html
    assert not soup.find_all(style=True), "no inline style (the CSP forbids it)"
    return soup


def test_gallery_sections_and_cards() -> None:
    mine = dashboard()
    theirs = dashboard(owner="carol", name="pub", access=Access("public"))
    shared = dashboard(owner="carol", name="team", access=Access("authenticated"))
    found = sections(BOB, [mine, theirs, shared], "/dashboards/")
    assert [len(s["items"]) for s in found] == [0, 2, 1]
    assert card(mine, ALICE, "/dashboards/")["manage_url"] == "/dashboards/_/manage/alice/sales"
    assert card(mine, BOB, "/dashboards/")["manage_url"] == ""
    html = render(
        "gallery.html", SITE, user=BOB, title="Dashboards",
        sections=found, frameworks=["streamlit"], owners=["alice", "carol"],
    )  # fmt: skip
    soup = no_injection(html)
    assert soup.select_one('[data-key="carol/pub"] a')["href"] == "/dashboards/carol/pub/"
    assert "Manage" not in soup.select_one('[data-key="carol/pub"]').text


def test_refusals_progress_and_the_front_doors_bytes() -> None:
    response = forbidden_page(SITE, dashboard(), User("carol"))
    assert response.status == 403 and response.headers["Content-Security-Policy"] == CSP
    assert "Ask alice to add you" in no_injection(response.text).text
    assert refusal_page(SITE, 404, EVIL).status == 404
    page = progress_page(SITE, dashboard(), ALICE)
    soup = no_injection(page.text)
    assert soup.body["data-logs"].endswith("/alice/sales/logs?lines=100")  # the owner's log
    assert "data-logs" not in progress_page(SITE, dashboard(), BOB).text
    raw = error_bytes(SITE, 502, EVIL)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 ") and b"Content-Security-Policy: " in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    no_injection(body.decode())


def test_every_asset_a_page_names_exists() -> None:
    soup = BeautifulSoup(
        render("refusal.html", SITE, title="t", code=404, message="m", hint=""), "html.parser"
    )
    names = [t.get("src") or t.get("href") for t in soup.find_all(["script", "link", "img"])]
    assets = [n.split("_/static/")[1].split("?")[0] for n in names if "_/static/" in n]
    assert len(set(assets)) == 5 and all((STATIC / a).is_file() for a in assets)
