"""The public pages at addresses a user mistypes (the audit of 2026-12-05): ``/#NOPE``
showed the list of elections as if nothing were wrong, and a malformed escape in the
address (``/#%E0%A4%A``) threw in the page's script and left it blank. Each now says that
there is no such election, with a way back; and the API page renders with no error."""

from __future__ import annotations

import pytest

from support.browser import CHROMIUM_ARGS, PHONE, TIMEOUT_MS, Server


@pytest.mark.parametrize("fragment", ["NOPE", "%E0%A4%A", "zzzzzzzzzzzzzzzz/box"])
def test_a_wrong_election_address_says_so(server: Server, chromium: str, fragment: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.base}/#{fragment}")
            expect(page.locator("#view")).to_have_attribute("data-ready", "1", timeout=TIMEOUT_MS)
            expect(page.locator("h1")).to_have_text("Таких виборів немає")
            expect(page.get_by_role("link", name="Усі вибори")).to_be_visible()
        finally:
            browser.close()
    assert errors == []


def test_the_api_page_renders_the_operations(server: Server, chromium: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{server.base}/api/v1/docs")
            expect(page.locator(".op").first).to_be_visible(timeout=TIMEOUT_MS)
            cast = page.locator("h3", has_text="POST").filter(has_text="/{uuid}/ballots")
            expect(cast.first).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert errors == [] and width <= PHONE["width"]
