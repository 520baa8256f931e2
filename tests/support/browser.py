"""What the tests in a real browser share: the served demo, the viewports, Chromium's flags,
and the screenshot + axe-core check of each page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page, ViewportSize

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 180_000  # a loaded 2-core machine: tables and ballots may take a while


@dataclass(frozen=True)
class Server:
    """``viche serve --demo`` on a port: its address, demo election, voters and data."""

    base: str
    uuid: str
    voters: Path
    data: Path

    def login(self, n: int) -> tuple[str, str]:
        login, secret = (self.voters / f"{n:03d}.login").read_text().split()
        return login, secret

    def credential(self, n: int) -> str:
        return (self.voters / f"{n:03d}.cred").read_text().strip()


@dataclass
class Screens:
    """Screenshots of every page (phone or desktop, by the page's viewport) into ``folder``,
    each page checked by axe-core (WCAG 2.1 A and AA, best practices); the violations and
    the pages' errors are collected for the test to assert on at the end."""

    folder: Path
    axe: Path
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page, *, console: bool = True) -> Page:
        """Collect the page's uncaught errors, and its console errors unless ``console`` is
        false (a page that is refused on purpose logs the HTTP error)."""
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        if console:
            page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        return page

    def shot(self, page: Page, name: str) -> None:
        size = "phone" if page.viewport_size == PHONE else "desktop"
        page.screenshot(path=str(self.folder / f"{size}-{name}.png"), full_page=True)
        if not page.evaluate("() => typeof window.axe === 'object'"):
            # through the debugger: the page's CSP is untouched
            page.evaluate("() => {" + self.axe.read_text() + "\n}")
        found = page.evaluate(
            "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
            "'wcag21a', 'wcag21aa', 'best-practice']})).violations"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
        )
        self.violations.extend(f"{size}-{name}: {v}" for v in found)
