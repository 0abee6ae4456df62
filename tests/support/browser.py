"""Driving Debian's Chromium with Playwright: logins through the hub, console errors, axe.

Every context bypasses the pages' Content-Security-Policy only so that axe-core
can be injected; the pages themselves run under it (a CSP violation is a
console error, and console errors fail the tests).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

from tests.support.hubstack import PASSWORD, ROOT, HubStack

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Person:
    """One user's browser context, and what its console said on Podium's own pages."""

    name: str
    context: BrowserContext
    page: Page
    stack: HubStack
    errors: list[str] = field(default_factory=list)

    def ours(self, url: str) -> bool:
        """Podium's own pages (not a dashboard's app, whose console is the app's business)."""
        path = url.removeprefix(self.stack.base)
        if not path.startswith("/dashboards/"):
            return False
        rest = path.removeprefix("/dashboards/")
        return rest == "" or rest.startswith(("_/", "?"))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error" or not self.ours(self.page.url):
            return
        if message.location.get("url") == self.page.url and message.text.startswith(
            "Failed to load resource"
        ):
            return  # the page's own status (a 403 or 404 page, a form sent back with 400)
        self.errors.append(f"{self.page.url}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        if self.ours(self.page.url):
            self.errors.append(f"{self.page.url}: {error}")

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.stack.base + path)


@asynccontextmanager
async def person(browser: Browser, stack: HubStack, name: str) -> AsyncIterator[Person]:
    context = await browser.new_context(bypass_csp=True, base_url=stack.base)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.base)
    page = await context.new_page()
    who = Person(name, context, page, stack)
    page.on("console", who.on_console)
    page.on("pageerror", who.on_page_error)
    try:
        yield who
    finally:
        await context.close()


async def log_in(who: Person) -> None:
    """Open Podium, get sent to the hub's login form, fill it in, come back to the gallery."""
    await who.goto("/dashboards/")
    await who.page.fill("#username_input", who.name)
    await who.page.fill("#password_input", PASSWORD)
    await who.page.click("#login_submit")
    await who.page.wait_for_url(f"{who.stack.base}/dashboards/")


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


async def screenshot(page: Page, name: str, folder: Path) -> None:
    """Written where PODIUM_SCREENSHOTS says (the README's images), else under the test's tmp."""
    target = Path(os.environ.get("PODIUM_SCREENSHOTS") or folder)
    target.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target / f"{name}.png"), full_page=True)
