"""The web pages in a real browser (Debian's Chromium), against the real stack: JupyterHub,
configurable-http-proxy, Podium and real Streamlit and Voilà runners.

The story of the issue: alice creates a Streamlit dashboard from the form and shares
it with a group; bob uses it; carol is refused; alice stops it, bob wakes it up;
alice changes who may see it and deletes it. Every Podium page visited is scanned by
axe-core (no serious or critical violation) and must log no console error.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, expect

from tests.support.browser import PHONE, Person, chromium, log_in, person, screenshot, violations
from tests.support.flows import api
from tests.support.hubstack import ROOT, HubStack, hub_stack
from tests.support.wheels import wheel

pytestmark = [pytest.mark.functional, pytest.mark.slow]
APPS = ROOT / "tests" / "apps"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HubStack]:
    tmp = tmp_path_factory.mktemp("web")
    home = tmp / "home" / "alice"
    (home / "apps" / "sales").mkdir(parents=True)
    shutil.copy(APPS / "streamlit" / "app.py", home / "apps" / "sales" / "app.py")
    (home / "reports").mkdir()
    shutil.copy(APPS / "voila" / "demo.ipynb", home / "reports" / "demo.ipynb")
    (home / "notes.txt").write_text("not a dashboard")
    team = tmp / "shared" / "team"  # hybrid storage: a folder every user shares
    (team / "tools").mkdir(parents=True)
    shutil.copy(APPS / "streamlit" / "app.py", team / "tools" / "team_app.py")
    # Its requirements.txt is installed on top of its environment (from a local index).
    (team / "tools" / "requirements.txt").write_text("podium_extra==1.0\n")
    wheel(tmp / "wheels", "podium_extra", "1.0")
    extra = f"c.LocalLauncher.shared_folders = {{'team': {str(team)!r}}}\n"
    extra += f"c.Podium.pip_args = ['--no-index', '--find-links', {str(tmp / 'wheels')!r}]\n"
    # The form offers environments; the default one is the runner's own Python.
    standard = {"name": "standard", "description": "what the hub has", "python": sys.executable}
    extra += f"c.Podium.environments = [{standard!r}]\n"
    async with hub_stack(tmp, podium_extra=extra) as s:
        yield s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return tmp_path


async def clean(who: Person) -> None:
    """The page passes axe and, so far, logged no console error."""
    assert await violations(who.page) == [], who.page.url
    assert who.errors == []


async def streamlit_works(page: Page) -> None:
    """The slider moves and the app's output follows (over the app's WebSocket)."""
    await expect(page.get_by_text("square is 9")).to_be_visible(timeout=60_000)
    await page.get_by_role("slider").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_text("square is 16")).to_be_visible(timeout=20_000)


async def test_the_whole_story(stack: HubStack, browser: Browser, shots: Path) -> None:
    link = f"{stack.base}/dashboards/alice/sales/"
    async with person(browser, stack, "alice") as alice:
        await log_in(alice)
        await clean(alice)
        await alice.page.get_by_role("link", name="New dashboard").first.click()
        await expect(alice.page.get_by_role("heading", name="New dashboard")).to_be_visible()
        await clean(alice)
        form = alice.page
        await form.fill("#name", "sales")
        await expect(form.locator("#link-preview")).to_have_text(link)
        await form.fill("#title", "Sales")
        await form.fill("#description", "Revenue by region, refreshed daily")
        await form.select_option("#framework", "streamlit")
        # The file picker: folders first, only notebooks and scripts.
        await form.click("#browse")
        await form.get_by_role("button", name="apps/").click()
        await form.get_by_role("button", name="sales/").click()
        await form.get_by_role("button", name="app.py").click()
        await expect(form.locator("#source_path")).to_have_value("apps/sales")
        await expect(form.locator("#entry")).to_have_value("app.py")
        await form.check("#access-restricted")
        await form.get_by_label("analysts").check()
        await screenshot(form, "form", shots)
        await form.get_by_role("button", name="Create").click()

        # The manage page: the start shows live, then the link is copied.
        await expect(form.get_by_role("heading", name="Sales")).to_be_visible()
        badge = form.locator("[data-status]").first
        await expect(badge).to_have_text("Running", timeout=90_000)
        await clean(alice)
        await form.get_by_role("button", name="Copy link").click()
        assert await form.evaluate("navigator.clipboard.readText()") == link
        await expect(form.locator("#log")).to_contain_text("ready", timeout=20_000)
        await screenshot(form, "manage", shots)

        async with person(browser, stack, "bob") as bob:
            await log_in(bob)
            await bob.page.goto(link)
            await streamlit_works(bob.page)

            async with person(browser, stack, "carol") as carol:
                await log_in(carol)
                response = await carol.goto("/dashboards/alice/sales/")
                assert response.status == 403
                await expect(carol.page.get_by_text("belongs to alice")).to_be_visible()
                await carol.goto("/dashboards/_/new")  # she has no storage folder here
                await expect(carol.page.locator("#storage-note")).to_contain_text(
                    "no storage here yet"
                )
                assert await carol.page.locator("#browse").count() == 0
                await clean(carol)

                # alice stops it; bob's next visit wakes it: progress page, then the app.
                await form.get_by_role("button", name="Stop").click()
                await expect(badge).to_have_text("Stopped", timeout=30_000)
                # The page reloads into the app when it is ready: that reload waits until
                # the progress page has been looked at (a fast start would otherwise win).
                release = asyncio.Event()
                loads: list[str] = []

                async def hold_the_reload(route: Route) -> None:
                    loads.append(route.request.url)
                    if len(loads) > 1:
                        await release.wait()
                    await route.continue_()

                await bob.page.route(link, hold_the_reload)
                await bob.page.goto(link)
                await expect(bob.page.get_by_role("heading", name="Starting Sales")).to_be_visible()
                await expect(bob.page.locator("#steps li").first).to_be_visible(timeout=20_000)
                await screenshot(bob.page, "progress", shots)
                await clean(bob)
                release.set()
                await bob.page.unroute(link)
                await streamlit_works(bob.page)

                # alice opens it to the whole hub: carol gets in.
                await form.get_by_role("link", name="Edit").click()
                await expect(form.locator("#source_path")).to_have_value("apps/sales")
                await clean(alice)
                await form.check("#access-authenticated")
                await form.get_by_role("button", name="Save").click()
                await expect(form.get_by_text("Everyone who can log in")).to_be_visible()
                await carol.page.goto(link)
                await streamlit_works(carol.page)
                assert carol.errors == [] and bob.errors == []

        # Views are counted (bob twice, carol once) and shown to the owner.
        await form.reload()
        await expect(
            form.locator("table.views tbody tr").first.locator("td").nth(1)
        ).not_to_have_text("0", timeout=10_000)
        # Delete, with a confirmation.
        await form.get_by_role("button", name="Delete…").click()
        dialog = form.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await clean(alice)
        await dialog.get_by_role("button", name="Delete").click()
        await expect(form.get_by_role("heading", name="Dashboards", exact=True)).to_be_visible()
        assert await form.locator('[data-key="alice/sales"]').count() == 0
        response = await alice.goto("/dashboards/alice/sales/")
        assert response.status == 404
        await clean(alice)


async def test_the_form_shows_each_mistake_next_to_its_field(
    stack: HubStack, browser: Browser
) -> None:
    async with person(browser, stack, "alice") as alice:
        await log_in(alice)
        page = alice.page
        await alice.goto("/dashboards/_/new")
        await page.fill("#name", "Bad Name!")
        await page.check("#source-git")
        await page.fill("#git_url", "file:///etc/passwd")
        await page.fill("#entry", "app.py")
        await page.fill("#idle_minutes", "-5")
        await page.get_by_role("button", name="Create").click()
        await expect(page.locator("#name-error")).to_contain_text("lowercase letters")
        await expect(page.locator("#git_url-error")).to_contain_text("file")
        await expect(page.locator("#idle_minutes-error")).to_contain_text("minutes")
        assert await page.locator("#name").get_attribute("aria-invalid") == "true"
        await expect(page.locator("#form-errors")).to_be_focused()
        await expect(page.locator("#name")).to_have_value("Bad Name!")  # nothing typed is lost
        await clean(alice)

        await page.fill("#name", "typo")
        await page.check("#source-storage")
        await page.fill("#source_path", "apps/sales")
        await page.fill("#entry", "ap.py")
        await page.fill("#idle_minutes", "30")
        await page.get_by_role("button", name="Create").click()
        await expect(page.locator("#entry-error")).to_have_text(
            "there is no file ap.py in the folder apps/sales of your storage"
        )
        await clean(alice)
    status, _ = await api(stack, await stack.token_for("alice"), "GET", "/dashboards/alice/typo")
    assert status == 404, "nothing was created"


async def test_a_voila_notebook_renders_through_the_gateway(
    stack: HubStack, browser: Browser
) -> None:
    token = await stack.token_for("alice")
    report = {
        "name": "report", "title": "Quarterly report", "framework": "voila",
        "description": "The notebook, as a page", "source": {"type": "storage", "path": "reports"},
        "entry": "demo.ipynb", "access": {"mode": "authenticated"},
    }  # fmt: skip
    status, body = await api(stack, token, "POST", "/dashboards", report)
    assert status == 201, body
    async with person(browser, stack, "bob") as bob:
        await log_in(bob)
        badge = bob.page.locator('[data-key="alice/report"] [data-status]')
        await expect(badge).to_have_text("Stopped")
        await bob.page.get_by_role("link", name="Quarterly report").click()
        await expect(bob.page.get_by_text("the answer is 42")).to_be_visible(timeout=90_000)
        await expect(bob.page.get_by_role("heading", name="Hello from Voila")).to_be_visible()
        # Back in the gallery, the card says it runs.
        await bob.goto("/dashboards/")
        await expect(badge).to_have_text("Running", timeout=10_000)
        await clean(bob)


async def test_the_gallery_filters_updates_live_and_fits_a_phone(
    stack: HubStack, browser: Browser, shots: Path
) -> None:
    token = await stack.token_for("alice")
    for name, framework, title in (
        ("alpha", "streamlit", "Alpha: sales by region"),
        ("beta", "voila", "Beta: weekly churn"),
    ):
        doc = {
            "name": name, "framework": framework, "entry": "app.py", "access": {"mode": "authenticated"},
            "source": {"type": "storage", "path": "apps/sales"}, "title": title,
            "description": "An example card of the gallery",
        }  # fmt: skip
        assert (await api(stack, token, "POST", "/dashboards", doc))[0] == 201
    async with person(browser, stack, "carol") as carol:
        await log_in(carol)
        page = carol.page
        await screenshot(page, "gallery", shots)
        await page.set_viewport_size(PHONE)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "no sideways scrolling on a phone"
        await page.select_option("#filter-framework", "voila")
        await expect(page.locator('[data-key="alice/alpha"]')).to_be_hidden()
        await expect(page.locator('[data-key="alice/beta"]')).to_be_visible()
        await page.select_option("#filter-framework", "")
        await page.fill("#filter-text", "alp")
        await expect(page.locator('[data-key="alice/beta"]')).to_be_hidden()
        await expect(page.locator('[data-key="alice/alpha"]')).to_be_visible()
        # The status changes without a reload.
        await page.fill("#filter-text", "")
        badge = page.locator('[data-key="alice/alpha"] [data-status]')
        await expect(badge).to_have_text("Stopped")
        assert (await api(stack, token, "POST", "/dashboards/alice/alpha/start"))[0] == 202
        await expect(badge).to_have_text(re.compile("Starting|Running"), timeout=15_000)
        await clean(carol)
        # Keyboard: the first Tab reaches "Skip to content", which moves focus to the page.
        await page.reload()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#main")).to_be_focused()


async def test_the_hub_services_menu_leads_to_the_dashboards(
    stack: HubStack, browser: Browser
) -> None:
    async with person(browser, stack, "carol") as carol:
        await log_in(carol)
        await carol.goto("/hub/home")
        await (
            carol.page.get_by_role("button", name="Services")
            .or_(carol.page.get_by_role("link", name="Services"))
            .click()
        )
        await carol.page.get_by_role("link", name="podium").click()
        await carol.page.wait_for_url(f"{stack.base}/dashboards/")
        await expect(
            carol.page.get_by_role("heading", name="Dashboards", exact=True)
        ).to_be_visible()


async def test_refusal_and_missing_pages_look_like_the_rest(
    stack: HubStack, browser: Browser
) -> None:
    doc = {
        "name": "visible", "framework": "streamlit", "entry": "app.py",
        "source": {"type": "storage", "path": "apps/sales"}, "access": {"mode": "authenticated"},
    }  # fmt: skip
    assert (await api(stack, await stack.token_for("alice"), "POST", "/dashboards", doc))[0] == 201
    async with person(browser, stack, "carol") as carol:
        await log_in(carol)
        response = await carol.goto("/dashboards/nobody/nothing/")
        assert response.status == 404
        await expect(carol.page.get_by_role("heading", name="Not found")).to_be_visible()
        await clean(carol)
        response = await carol.goto("/dashboards/_/no-such-page")
        assert response.status == 404
        await expect(carol.page.get_by_role("link", name="All dashboards")).to_be_visible()
        await clean(carol)
        response = await carol.goto("/dashboards/_/manage/alice/visible")
        assert response.status == 403  # she may view it, not change it
        await expect(carol.page.get_by_text("Only alice and admins")).to_be_visible()
        await clean(carol)


async def test_a_failed_start_is_kind_to_viewers_and_shows_the_owner_the_log(
    stack: HubStack, browser: Browser
) -> None:
    doc = {
        "name": "broken", "title": "Broken", "framework": "streamlit", "entry": "gone.py",
        "source": {"type": "storage", "path": "apps/sales"}, "access": {"mode": "authenticated"},
    }  # fmt: skip
    assert (await api(stack, await stack.token_for("alice"), "POST", "/dashboards", doc))[0] == 201
    async with person(browser, stack, "bob") as bob, person(browser, stack, "alice") as alice:
        await log_in(bob)
        await bob.goto("/dashboards/alice/broken/")
        await expect(bob.page.get_by_role("alert")).to_have_text(
            "This dashboard could not start. Its owner can see why; try again later.",
            timeout=30_000,
        )
        assert await bob.page.locator("#log").count() == 0, "viewers never see the log"
        await clean(bob)
        await log_in(alice)
        await alice.goto("/dashboards/alice/broken/")
        await expect(alice.page.get_by_role("alert")).to_contain_text(
            "It could not start", timeout=30_000
        )
        await expect(alice.page.locator("#log")).to_contain_text("gone.py", timeout=10_000)
        await clean(alice)


async def test_the_file_listing_stays_inside_the_callers_storage(stack: HubStack) -> None:
    alice, carol = await stack.token_for("alice"), await stack.token_for("carol")
    status, body = await api(stack, alice, "GET", "/files?path=apps")
    assert status == 200
    assert body == {"path": "apps", "entries": [{"name": "sales", "type": "folder"}]}
    status, body = await api(stack, alice, "GET", "/files?path=../carol")
    assert status == 400 and body["field"] == "path"
    status, body = await api(stack, carol, "GET", "/files?path=")
    assert status == 404, "carol has no storage here; she never sees alice's"
    status, _ = await api(stack, "", "GET", "/files")
    assert status == 401


async def test_a_dashboard_from_a_shared_volume(stack: HubStack, browser: Browser) -> None:
    """Hybrid storage: alice picks the team's shared folder in the form, browses it, and
    publishes an app that is not in her own storage; the API says where it comes from."""
    async with person(browser, stack, "alice") as alice:
        await log_in(alice)
        await alice.goto("/dashboards/_/new")
        form = alice.page
        await form.fill("#name", "team-tool")
        await form.select_option("#framework", "streamlit")
        await expect(form.locator("#environment")).to_have_value("standard")
        await form.select_option("#source_volume", "team")
        await form.click("#browse")
        await form.get_by_role("button", name="tools/").click()
        await form.get_by_role("button", name="team_app.py").click()
        await expect(form.locator("#source_path")).to_have_value("tools")
        await clean(alice)
        await form.get_by_role("button", name="Create").click()
        await expect(form.locator("[data-status]").first).to_have_text("Running", timeout=90_000)
        await expect(form.get_by_text("shared volume team, folder tools")).to_be_visible()
        await expect(form.get_by_text("standard", exact=True)).to_be_visible()  # its environment
        await form.reload()  # the requirements.txt layer it runs on, once it runs
        await expect(form.locator("#layer")).to_contain_text("installed")
        await clean(alice)
    token = await stack.token_for("alice")
    status, seen = await api(stack, token, "GET", "/dashboards/alice/team-tool")
    assert seen["source"] == {"type": "storage", "volume": "team", "path": "tools"}
    assert seen["environment"] == "standard"  # the form's choice, the default
    async with person(browser, stack, "alice") as alice:
        await log_in(alice)
        await alice.page.goto(f"{stack.base}/dashboards/alice/team-tool/")
        await streamlit_works(alice.page)
    status, body = await api(stack, token, "GET", "/files?volume=team&path=tools")
    assert status == 200 and body["entries"] == [{"name": "team_app.py", "type": "file"}]
    status, body = await api(stack, token, "GET", "/files?volume=other")
    assert status == 404
    doc = {"name": "nowhere", "framework": "streamlit", "entry": "app.py",
           "source": {"type": "storage", "volume": "other"}}  # fmt: skip
    status, body = await api(stack, token, "POST", "/dashboards", doc)
    assert status == 400 and body["field"] == "source.volume", body
    assert (await api(stack, token, "DELETE", "/dashboards/alice/team-tool"))[0] == 204
