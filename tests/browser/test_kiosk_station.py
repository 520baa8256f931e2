"""The kiosk booth at a national event's polling station, in a real browser: ``viche serve
--event`` (a real process), Debian's Chromium driven by Playwright. The staff open the
station's session with its secret, enter the voter's id; she enters her own credential,
answers, and her ballot is cast through the station's endpoint: it overrides her earlier
online ballot and locks her credential (her later online re-vote is refused). Between two
voters the terminal forgets her; the station's session stays."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.browser import CHROMIUM_ARGS, DESKTOP, TIMEOUT_MS, Screens
from support.event import serve_event_process
from viche.crypto.rng import SeededRandom


def test_kiosk_booth_casts_at_a_station(
    tmp_path: Path, chromium: str, axe: Path, shots: Path
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    screens = Screens(shots, axe)

    def step(page: Page, name: str) -> None:
        expect(page.locator("#view")).to_have_attribute("data-step", name, timeout=TIMEOUT_MS)

    with serve_event_process(tmp_path, SeededRandom("kiosk-station")) as s:
        event = httpx.get(f"{s.base}/api/v1/events/test-event").json()
        uuid = event["styles"][0]["election"]
        with s.ev.desk() as desk:
            online = s.ev.ballot(desk, "c01-v0", choice=0)
            later = s.ev.ballot(desk, "c01-v0", choice=1)
        json_type = {"Content-Type": "application/json"}
        r = httpx.post(f"{s.base}/api/v1/elections/{uuid}/ballots", content=online,
                       headers=json_type, auth=s.login("c01-v0"))  # fmt: skip
        assert r.status_code == 201, r.text

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport=DESKTOP).new_page()
                screens.watch(page, console=False)
                page.goto(f"{s.base}/booth/?kiosk=1&station=DE-BERLIN-1")
                step(page, "staff")
                expect(page.locator("#station-id")).to_contain_text("DE-BERLIN-1")
                screens.shot(page, "kiosk-1-station")
                page.locator("#station-secret").fill("not-the-secret")
                page.keyboard.press("Enter")
                expect(page.locator("#voter-id")).to_be_visible(timeout=TIMEOUT_MS)
                page.locator("#voter-id").fill("c01-v0")
                page.keyboard.press("Enter")  # the wrong secret: asked again
                expect(page.locator("#station-secret")).to_be_visible(timeout=TIMEOUT_MS)
                page.locator("#station-secret").fill(s.station_secret.read_text().strip())
                page.keyboard.press("Enter")
                expect(page.locator("#voter-id")).to_be_visible(timeout=TIMEOUT_MS)
                screens.shot(page, "kiosk-2-staff")
                page.locator("#voter-id").fill("c01-v0")
                page.keyboard.press("Enter")
                step(page, "credential")
                page.locator("#credential").fill(s.ev.credentials["c01-v0"][1])
                page.locator("#cred-next").click()
                step(page, "question")
                page.locator("label.choice").nth(1).click()
                page.locator("#q-next").click()
                expect(page.locator("h1")).to_contain_text("2")
                page.locator("label.choice").first.click()
                page.locator("#q-next").click()
                step(page, "review")
                page.locator("#encrypt").click()
                step(page, "encrypted")
                tracker = page.locator("#tracker").inner_text()
                page.locator("#cast").click()
                step(page, "done")
                assert page.locator("#done-tracker").inner_text() == tracker
                expect(page.locator("#receipt")).to_contain_text(tracker)
                screens.shot(page, "kiosk-3-done")
                page.locator("#next-voter").click()
                step(page, "staff")  # the station's session stays: the next voter's id
                expect(page.locator("#voter-id")).to_be_visible()
                # the same voter again: her credential is locked, the booth says so
                page.locator("#voter-id").fill("c01-v0")
                page.keyboard.press("Enter")
                step(page, "credential")
                page.locator("#credential").fill(s.ev.credentials["c01-v0"][1])
                page.locator("#cred-next").click()
                page.locator("label.choice").first.click()
                page.locator("#q-next").click()
                page.locator("label.choice").first.click()
                page.locator("#q-next").click()
                page.locator("#encrypt").click()
                step(page, "encrypted")
                page.locator("#cast").click()
                expect(page.locator("#cast-msg .msg.bad")).to_be_visible(timeout=TIMEOUT_MS)
                screens.shot(page, "kiosk-4-locked")
            finally:
                browser.close()

        # the station ballot overrode the online one; a later online re-vote is refused
        r = httpx.post(f"{s.base}/api/v1/elections/{uuid}/ballots", content=later,
                       headers=json_type, auth=s.login("c01-v0"))  # fmt: skip
        assert r.status_code == 409 and r.json()["code"] == "V8050", r.text
        locks = httpx.get(f"{s.base}/api/v1/events/test-event/station-locks.jsonl")
        assert locks.status_code == 200 and locks.content.count(b"\n") == 1
        assert tracker.encode() not in locks.content  # the log names hashes, not trackers
        turnout = httpx.get(f"{s.base}/api/v1/events/test-event").json()["turnout"]["total"]
        assert turnout == {"online": 0, "station": 1, "relay": 0}
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)
