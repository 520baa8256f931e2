"""Before the opening, in a real browser (Debian's Chromium, Playwright): the election page
and the booth of an election still being set up say when it opens (its scheduled time) or
that it is not open yet, in Ukrainian and in English, never "no such election"; each page is
checked by axe-core and screenshotted."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from support.browser import CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS, Screens, Server
from viche.service.demo import DEMO_TEMPLATE


def _draft(server: Server, opens: int | None) -> tuple[str, str]:
    """A new election (a draft: no roll, no key: it cannot open), its opening scheduled at
    ``opens``; its uuid and its administrator's secret."""
    secret = (server.data / "admin.secret").read_text().strip()
    made = httpx.post(
        f"{server.base}/api/v1/elections",
        json={"template": DEMO_TEMPLATE, "trustees": 1},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert made.status_code == 201, made.text
    uuid = str(made.json()["uuid"])
    if opens is not None:
        at = datetime.fromtimestamp(opens, UTC).isoformat().replace("+00:00", "Z")
        r = httpx.put(
            f"{server.base}/api/v1/elections/{uuid}/schedule",
            json={"open": at},
            headers={"Authorization": f"Bearer {made.json()['administrator']}"},
        )
        assert r.status_code == 200, r.text
    return uuid, str(made.json()["administrator"])


def _failed(server: Server, uuid: str, admin: str) -> bool:
    r = httpx.get(
        f"{server.base}/api/v1/elections/{uuid}/schedule",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 200, r.text
    return r.json()["failed"] is not None


def test_the_pages_and_the_booth_say_when_the_election_opens(
    server: Server, chromium: str, axe: Path, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    opens = (math.ceil(time.time()) // 86400 + 3) * 86400 + 10 * 3600  # 10:00 UTC, in 2-3 days
    year = str(datetime.fromtimestamp(opens, UTC).year)
    scheduled, _ = _draft(server, opens)
    unscheduled, _ = _draft(server, None)
    failing, admin = _draft(server, math.ceil(time.time()) + 2)
    screens = Screens(shots, axe)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for viewport, english in ((DESKTOP, False), (PHONE, True)):
                ctx = browser.new_context(viewport=viewport, timezone_id="UTC")
                ctx.set_default_timeout(TIMEOUT_MS)
                page = screens.watch(ctx.new_page(), console=False)  # the 409 is logged
                lang = "en" if english else "uk"
                opens_text = (
                    ("This election opens ", "10:00 AM UTC.")
                    if english
                    else ("Ці вибори відкриються ", "о 10:00 UTC.")
                )
                # the election page
                page.goto(f"{server.base}/#{scheduled}")
                if english:
                    page.locator("#lang").click()
                expect(page.locator("html")).to_have_attribute("lang", lang)
                title = page.locator("#view-title")
                expect(title).to_contain_text(opens_text[0])
                expect(title).to_contain_text(year)
                expect(title).to_contain_text(opens_text[1])
                expect(page.locator("#not-open")).to_be_visible()
                assert "Quelle" not in page.content() and "chair" not in page.content()
                screens.shot(page, f"not-open-page-{lang}")
                page.goto(f"{server.base}/#{unscheduled}")
                page.reload()
                expect(title).to_have_text(
                    "This election is not open yet." if english else "Ці вибори ще не відкриті."
                )
                screens.shot(page, f"not-open-page-unscheduled-{lang}")
                # the booth
                page.goto(f"{server.base}/booth/#{scheduled}")
                view = page.locator("#view")
                expect(view).to_have_attribute("data-step", "notopen")
                expect(title).to_contain_text(opens_text[0])
                expect(title).to_contain_text(year)
                expect(page.locator("#not-open")).to_be_visible()
                page.wait_for_timeout(1000)  # nothing redraws it away
                expect(title).to_contain_text(opens_text[0])
                screens.shot(page, f"not-open-booth-{lang}")
                page.goto(f"{server.base}/booth/#{unscheduled}")
                expect(title).to_have_text(
                    "This election is not open yet." if english else "Ці вибори ще не відкриті."
                )
                screens.shot(page, f"not-open-booth-unscheduled-{lang}")
                page.locator("#not-open-back").click()  # back to the elections open now
                expect(view).to_have_attribute("data-step", "choose")
                ctx.close()
            # the administrator's page: its setup steps, and the failed scheduled opening
            deadline = time.monotonic() + 60
            while not _failed(server, failing, admin):
                assert time.monotonic() < deadline, "the scheduled opening was not tried"
                time.sleep(0.5)
            ctx = browser.new_context(viewport=DESKTOP, timezone_id="UTC")
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page(), console=False)
            page.goto(f"{server.base}/admin/")
            page.get_by_label("Ідентифікатор виборів (uuid)", exact=True).fill(failing)
            page.get_by_label("Секрет адміністратора виборів", exact=True).fill(admin)
            page.get_by_role("button", name="Керувати").click()
            expect(page.locator("#roll-send")).to_be_visible()
            failed = page.locator("#schedule-failed")
            expect(failed).to_contain_text("Заплановане відкриття не вдалося")
            expect(failed).to_contain_text("V3005: trustee 1 has not uploaded a key")
            expect(page.locator("#schedule-open")).to_contain_text("Відкриється автоматично")
            screens.shot(page, "not-open-admin-failed-uk")
            ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == []


def test_a_page_left_open_shows_the_election_once_it_opens(
    server: Server, chromium: str, axe: Path, shots: Path
) -> None:
    """The election page and the booth of an election that is not open yet ask the server
    again by themselves shortly after the scheduled opening (the page's clock is run forward;
    until then the server's answer is made to say "not open yet, opens in a minute"), and show
    the open election without the voter reloading anything."""
    from playwright.sync_api import Route, expect, sync_playwright

    address = f"{server.base}/api/v1/elections/{server.uuid}"
    asked: list[float] = []
    opened = {"now": False}

    def not_open_until_told(route: Route) -> None:
        asked.append(time.monotonic())
        if opened["now"]:
            route.continue_()
            return
        opens = datetime.fromtimestamp(math.ceil(time.time()) + 60, UTC)
        route.fulfill(
            status=409,
            content_type="application/json",
            body=json.dumps(
                {
                    "code": "V3009",
                    "message": "not open yet",
                    "opens": opens.isoformat().replace("+00:00", "Z"),
                }
            ),
        )

    screens = Screens(shots, axe)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for where in ("booth/", ""):
                opened["now"] = False
                # no service worker: its requests would not pass through page.route
                ctx = browser.new_context(
                    viewport=DESKTOP, timezone_id="UTC", service_workers="block"
                )
                ctx.set_default_timeout(TIMEOUT_MS)
                page = screens.watch(ctx.new_page(), console=False)  # the 409 is logged
                page.clock.install()
                page.route(address, not_open_until_told)
                page.goto(f"{server.base}/{where}#{server.uuid}")
                expect(page.locator("#not-open")).to_be_visible()
                expect(page.locator("#view-title")).to_contain_text("Ці вибори відкриються")
                before = len(asked)
                page.clock.run_for(30_000)  # half a minute: still before the opening
                page.wait_for_timeout(300)
                assert len(asked) == before, "asked again before the opening"
                opened["now"] = True
                page.clock.run_for(65_000)  # past the opening and its spread
                expect(page.locator("#not-open")).to_have_count(0)
                if where == "booth/":
                    expect(page.locator("#view")).not_to_have_attribute("data-step", "notopen")
                else:
                    expect(page.locator("#view-title")).not_to_contain_text("відкриються")
                assert len(asked) > before
                screens.shot(page, f"opened-while-waiting-{where.strip('/') or 'page'}")
                ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == []
