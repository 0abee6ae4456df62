"""JupyterLab's "Publish as dashboard" (extensions/jupyterlab-podium) in a real JupyterLab
that the real hub spawns for alice, from an environment like a user image's (``.venv-user``:
JupyterLab and the extension, not Podium), driven in Chromium as she would use it: she
right-clicks ``apps/sales/app.py``, publishes it to the analysts, gets the link; bob opens
it. Then the file is published already ("Update"), and its server side refuses what it
must."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.support.browser import chromium, person
from tests.support.hubstack import PASSWORD, ROOT, HubStack, documented_roles
from tests.support.stacks import stack_fixture

USER_VENV = ROOT / ".venv-user"  # made by scripts/setup
assert (USER_VENV / "bin" / "jupyter-lab").exists(), "run scripts/setup (it makes .venv-user)"

HUB = f"""
from pathlib import Path
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(Path(__file__).parent / "home" / "{{username}}")
c.Spawner.cmd = [{str(USER_VENV / "bin" / "jupyterhub-singleuser")!r}]
c.Spawner.args = ["--allow-root"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Authenticator.allowed_users = {{"alice", "bob", "carol", "admin", "jane.doe@example.org"}}
c.JupyterHub.load_roles = [
    r for r in c.JupyterHub.load_roles if r["name"] not in ("user", "server")
] + {documented_roles()!r}
"""
stack = stack_fixture(
    "lab",
    files={"alice/apps/sales/app.py": "streamlit/app.py",
           "alice/more/sales.py": "streamlit/app.py",
           "jane.doe@example.org/q3/report.py": "streamlit/app.py"},
    hub=HUB,
)  # fmt: skip
pytestmark = [pytest.mark.functional, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def hub_login(page: Page, stack: HubStack, name: str, to: str) -> None:
    await page.goto(f"{stack.base}/hub/login?next={to}")
    await page.fill("#username_input", name)
    await page.fill("#password_input", PASSWORD)
    await page.click("#login_submit")


async def open_publish(page: Page, into: tuple[str, ...] = ()) -> None:
    """In the file browser: into apps → sales, right-click app.py → Publish as dashboard."""
    listing = page.locator(".jp-DirListing-content")
    for folder in into:
        await listing.get_by_text(folder, exact=True).dblclick()
    await listing.get_by_text("app.py", exact=True).click(button="right")
    await page.get_by_role("menuitem", name="Publish as dashboard").click()


async def test_alice_publishes_from_jupyterlab_and_bob_opens_it(
    stack: HubStack, browser: Browser
) -> None:
    async with person(browser, stack, "alice") as alice:
        page = alice.page
        await hub_login(page, stack, "alice", "/hub/spawn")  # as her home page's Start does
        await page.wait_for_url(re.compile(r"/user/alice/lab"), timeout=150_000)
        await expect(page.locator(".jp-DirListing-content")).to_be_visible(timeout=60_000)

        await open_publish(page, ("apps", "sales"))
        dialog = page.locator(".jp-Dialog")
        await expect(dialog.locator("input[name=name]")).to_have_value("sales")
        await expect(dialog.locator("select[name=framework]")).to_have_value("streamlit")
        await expect(dialog).to_contain_text("guessed: it imports streamlit")
        await dialog.locator("select[name=who]").select_option("restricted")
        await dialog.get_by_label("analysts").check()
        await dialog.locator("input[name=idle]").fill("45")
        await dialog.get_by_role("button", name="Publish").click()

        status = page.locator(".jp-podium-status")
        await expect(status).to_have_attribute("data-status", "ready", timeout=180_000)
        link = await page.locator(".jp-podium-link a").get_attribute("href")
        assert link == f"{stack.base}/dashboards/alice/sales/", link
        await page.get_by_role("button", name="Copy link").click()
        assert await page.evaluate("navigator.clipboard.readText()") == link
        await page.get_by_role("button", name="Close").click()

        # Published already: the dialog says so, with what was chosen, and updates it.
        await open_publish(page)
        await expect(dialog).to_contain_text("Update dashboard sales")
        await expect(dialog.locator("select[name=who]")).to_have_value("restricted")
        await expect(dialog.get_by_label("analysts")).to_be_checked()
        await expect(dialog.locator("input[name=idle]")).to_have_value("45")
        await dialog.get_by_role("button", name="Update").click()
        await expect(page.locator(".jp-Dialog")).to_contain_text("Updated sales.")
        await expect(status).to_have_attribute("data-status", "ready", timeout=180_000)
        await page.get_by_role("button", name="Close").click()

        # The editor's toolbar has it too.
        await page.locator(".jp-DirListing-content").get_by_text("app.py", exact=True).dblclick()
        await page.locator(".jp-podium-publish").last.click()
        await expect(dialog).to_contain_text("Update dashboard sales")
        await dialog.get_by_role("button", name="Cancel").click()

    async with person(browser, stack, "bob") as bob:  # in analysts
        await bob.page.goto(link)
        await bob.page.fill("#username_input", "bob")
        await bob.page.fill("#password_input", PASSWORD)
        await bob.page.click("#login_submit")
        await expect(bob.page.get_by_text("Hello from Streamlit")).to_be_visible(timeout=60_000)

    token = await stack.token_for("alice")  # what the dialog asks, asked with her token
    server = f"{stack.base}/user/alice/podium"
    async with aiohttp.ClientSession(headers={"Authorization": f"token {token}"}) as s:
        async with s.get(f"{server}/info", params={"path": "../../etc/passwd"}) as r:
            assert r.status == 400 and "not in this server's files" in (await r.json())["message"]
        async with s.post(f"{server}/publish", data=b"[1") as r:
            assert r.status == 400 and (await r.json())["message"] == "the request is not JSON"
        body = {"path": "apps/sales/app.py", "name": "x", "framework": "cobol"}
        async with s.post(f"{server}/publish", json=body) as r:
            assert r.status == 400 and "choose a framework" in (await r.json())["message"]
        async with s.get(f"{server}/info", params={"path": "apps/sales/app.py"}) as r:
            info = await r.json()
            assert info["published"]["name"] == "sales" and info["published"]["status"] == "ready"
        # Another file whose name would be "sales": its own name, never hers replaced.
        async with s.get(f"{server}/info", params={"path": "more/sales.py"}) as r:
            info = await r.json()
            assert info["name"] == "sales-2" and info["published"] is None, info
        clash = {"path": "more/sales.py", "name": "sales", "framework": "streamlit"}
        async with s.post(f"{server}/publish", json=clash) as r:
            said = (await r.json())["message"]
            assert (
                r.status == 409
                and said
                == "sales is already your dashboard of apps/sales/app.py: choose another name"
            ), said
        # What the review's requests got as 500s: each a 400 with a reason.
        home = stack.dir / "home" / "alice"
        (home / "loop1").symlink_to(home / "loop2")
        (home / "loop2").symlink_to(home / "loop1")
        for path in ("x" * 300, "a\0b", "loop1"):
            async with s.get(f"{server}/info", params={"path": path}) as r:
                assert r.status == 400, (path, r.status, await r.text())
        async with s.post(f"{server}/publish", data=b"[" * 30000) as r:
            assert r.status == 400, await r.text()
        for wrong, words in (
            ({"idle_minutes": 0}, "5 to 1440 minutes"),
            ({"to": "bob"}, "a list of usernames"),
            ({"to": ["all", "bob"]}, "stand alone"),
            ({"framework": "custom"}, "choose a framework"),
        ):
            body = {"path": "apps/sales/app.py", "name": "sales", "framework": "streamlit", **wrong}
            async with s.post(f"{server}/publish", json=body) as r:
                assert r.status == 400 and words in (await r.json())["message"], await r.text()
    bob_token = await stack.token_for("bob")  # alice's server is hers alone
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"token {bob_token}"}) as s,
        s.get(f"{server}/info", params={"path": "apps/sales/app.py"}, allow_redirects=False) as r,
    ):
        assert r.status in (302, 403), r.status


async def test_an_email_username_publishes_to_every_hub_user(
    stack: HubStack, browser: Browser
) -> None:
    """jane.doe@example.org, as JupyterHub allows it: her server's URL, her storage and her
    dashboard's path all carry the name."""
    async with person(browser, stack, "jane.doe@example.org") as jane:
        page = jane.page
        await hub_login(page, stack, "jane.doe@example.org", "/hub/spawn")
        await page.wait_for_url(
            re.compile(r"/user/jane.doe(@|%40)example.org/lab"), timeout=150_000
        )
        listing = page.locator(".jp-DirListing-content")
        await listing.get_by_text("q3", exact=True).dblclick()
        await listing.get_by_text("report.py", exact=True).click(button="right")
        await page.get_by_role("menuitem", name="Publish as dashboard").click()
        dialog = page.locator(".jp-Dialog")
        await expect(dialog.locator("input[name=name]")).to_have_value("report")
        await dialog.locator("select[name=who]").select_option("authenticated")
        await dialog.get_by_role("button", name="Publish").click()
        status = page.locator(".jp-podium-status")
        await expect(status).to_have_attribute("data-status", "ready", timeout=180_000)
        link = await page.locator(".jp-podium-link a").get_attribute("href")
        assert link is not None and "jane.doe" in link and link.endswith("/report/"), link

    async with person(browser, stack, "carol") as carol:  # any hub user
        await carol.page.goto(link)
        await carol.page.fill("#username_input", "carol")
        await carol.page.fill("#password_input", PASSWORD)
        await carol.page.click("#login_submit")
        await expect(carol.page.get_by_text("Hello from Streamlit")).to_be_visible(timeout=60_000)
