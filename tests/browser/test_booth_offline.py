"""The booth without a network, against a close time, and as a polling station's kiosk
(issue 9, soldiers on intermittent links): loaded once, the booth loads again offline, a
ballot is encrypted and signed offline, queued (no credential, no choice, no login secret
in the browser's storage) and cast by itself when the link returns, the receipt shown
then; the close time is counted down (a warning under 10 minutes) and casting is refused
once it has passed; `?kiosk=1` wipes every trace of a voter for the next one.

Screenshots go to $VICHE_SCREENSHOTS (default: the test's temporary folder)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import Page

from support.browser import CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS, Screens, Server
from viche.record.sql import SqlBoard
from viche.record.sql.schedules import put_schedule

# everything the page keeps: localStorage, sessionStorage, IndexedDB's databases, the
# Cache Storage's URLs (and the bodies of the cached API answers)
STORED = """async () => {
  const out = { local: {}, session: {}, idb: [], cached: [] };
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i); out.local[k] = localStorage.getItem(k);
  }
  for (let i = 0; i < sessionStorage.length; i++) {
    const k = sessionStorage.key(i); out.session[k] = sessionStorage.getItem(k);
  }
  out.idb = (await indexedDB.databases()).map((d) => d.name);
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const body = req.url.includes("/api/") ? await (await cache.match(req)).text() : "";
      out.cached.push([req.url, body]);
    }
  }
  return out;
}"""


# the service worker controls the page and keeps the booth and the election's data
KEPT = """async (u) => !!navigator.serviceWorker.controller
  && !!(await caches.match("/booth/")) && !!(await caches.match("/booth/worker.js"))
  && !!(await caches.match(`/api/v1/elections/${u}`))"""


def _until(page: Page, script: str, arg: object) -> None:
    """Wait for an async predicate (wait_for_function takes its promise for true)."""
    end = time.monotonic() + TIMEOUT_MS / 1000
    while not page.evaluate(script, arg):
        assert time.monotonic() < end, script
        time.sleep(0.2)


def _ballots(server: Server) -> int:
    r = httpx.get(f"{server.base}/api/v1/elections/{server.uuid}")
    return int(r.json()["ballots"])


def _close_in(server: Server, seconds: int) -> None:
    """The close time, set on the board beside the server (which reads it at each check
    and in each answer), as the administration API's PUT …/schedule would."""
    board = SqlBoard.open(f"sqlite:///{(server.data / 'board.sqlite').resolve()}")
    try:
        put_schedule(board, server.uuid, None, int(time.time()) + seconds)
    finally:
        board.close()


def test_booth_works_offline_and_casts_the_queued_ballot_when_online(
    server: Server, chromium: str, axe: Path, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    screens = Screens(shots, axe)

    def step(page: Page, name: str) -> None:
        expect(page.locator("#view")).to_have_attribute("data-step", name, timeout=TIMEOUT_MS)

    login, secret = server.login(1)
    credential = server.credential(1)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=DESKTOP)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = ctx.new_page()
            screens.watch(page, console=False)  # offline, the failed requests are logged
            page.goto(f"{server.base}/booth/#{server.uuid}")
            step(page, "login")
            # loaded once: the service worker controls the booth and kept the election
            _until(page, KEPT, server.uuid)
            ctx.set_offline(True)
            assert (
                page.evaluate("() => fetch('/api/v1/health').then(() => 'online', () => 'offline')")
                == "offline"
            )
            page.reload()  # the booth loads again without a network
            step(page, "login")
            expect(page.get_by_role("heading", name="Вхід")).to_be_visible()
            page.get_by_label("Логін", exact=True).fill(login)
            page.get_by_label("Секрет для входу", exact=True).fill(secret)
            page.keyboard.press("Enter")
            step(page, "credential")
            page.get_by_label("Приватний ключ виборця", exact=True).fill(credential)
            page.get_by_role("button", name="Далі").click()
            page.locator("label.choice").nth(2).click()
            page.get_by_role("button", name="Далі").click()
            page.locator("label.choice").first.click()
            page.get_by_role("button", name="Далі").click()
            step(page, "review")
            page.get_by_role("button", name="Зашифрувати").click()  # offline
            step(page, "encrypted")
            tracker = page.locator("#tracker").inner_text()
            page.get_by_role("button", name="Надіслати бюлетень").click()
            step(page, "queued")
            expect(page.locator("#queue-msg")).to_contain_text("Немає з’єднання")
            assert page.locator("#queued-tracker").inner_text() == tracker
            screens.shot(page, "offline-queued")
            # what the browser keeps: the encrypted, signed ballot and the login; never
            # the credential, the login secret or the choices
            stored = page.evaluate(STORED)
            queue = json.loads(stored["local"]["viche.booth.queue"])
            assert [sorted(q) for q in queue] == [["ballot", "close", "login", "tracker", "uuid"]]
            assert queue[0]["login"] == login and queue[0]["tracker"] == tracker
            ballot = json.loads(queue[0]["ballot"])
            assert set(ballot) >= {"answers", "signature", "credential"}
            # the choices only as ciphertexts (alpha, beta) with their proofs
            assert set(ballot["answers"][0]["choices"][0]) == {"alpha", "beta"}
            everything = json.dumps(stored)
            for secret_text in (credential, credential.replace("-", ""), secret):
                assert secret_text not in everything
            assert stored["idb"] == [] and stored["session"] == {}
            assert _ballots(server) == 0
            # the page closed and opened again, still offline: the queued ballot waits for
            # the voter's login (its secret is never kept), then for the link
            page.reload()
            step(page, "login")
            expect(page.locator("#queue-waiting")).to_contain_text("чекає бюлетень")
            screens.shot(page, "offline-waiting")
            page.get_by_label("Логін", exact=True).fill(login)
            page.get_by_label("Секрет для входу", exact=True).fill(secret)
            page.keyboard.press("Enter")
            step(page, "queued")
            expect(page.locator("#queue-msg")).to_contain_text("Немає з’єднання")
            # the link returns: the ballot is cast by itself, the receipt shown
            ctx.set_offline(False)
            step(page, "done")
            assert page.locator("#done-tracker").inner_text() == tracker
            receipt = json.loads(page.locator("#receipt").inner_text())
            assert receipt["receipt"]["tracker"] == tracker
            screens.shot(page, "offline-cast")
            assert _ballots(server) == 1
            assert "viche.booth.queue" not in page.evaluate(STORED)["local"]
            ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)


def test_booth_counts_down_to_the_close_and_kiosk_wipes_each_voter(
    server: Server, chromium: str, axe: Path, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    screens = Screens(shots, axe)

    def step(page: Page, name: str) -> None:
        expect(page.locator("#view")).to_have_attribute("data-step", name, timeout=TIMEOUT_MS)

    def vote(page: Page, n: int) -> None:
        login, secret = server.login(n)
        page.get_by_label("Login", exact=True).fill(login)
        page.get_by_label("Login secret", exact=True).fill(secret)
        page.get_by_role("button", name="Next").click()
        step(page, "credential")
        expect(page.get_by_label("Private credential", exact=True)).to_have_value("")
        page.get_by_label("Private credential", exact=True).fill(server.credential(n))
        page.get_by_role("button", name="Next").click()
        page.locator("label.choice").first.click()
        page.get_by_role("button", name="Next").click()
        page.locator("label.choice").first.click()
        page.get_by_role("button", name="Next").click()
        step(page, "review")
        page.get_by_role("button", name="Encrypt").click()
        step(page, "encrypted")

    _close_in(server, 5 * 60)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page())
            page.goto(f"{server.base}/booth/?kiosk=1#{server.uuid}")
            step(page, "login")
            page.get_by_role("button", name="English").click()
            countdown = page.locator("#countdown-msg")
            expect(countdown).to_contain_text("The vote closes")
            expect(countdown).to_contain_text("Less than 10 minutes")
            expect(page.locator("#countdown-left")).to_contain_text(":0")
            expect(page.locator("#kiosk-note")).to_contain_text("Polling-station terminal")
            screens.shot(page, "kiosk-countdown")
            # a voter at the station: cast, the receipt on the screen only, then wiped
            vote(page, 2)
            page.get_by_role("button", name="Cast the ballot").click()
            step(page, "done")
            tracker = page.locator("#done-tracker").inner_text()
            expect(page.get_by_role("button", name="Download the receipt")).to_have_count(0)
            screens.shot(page, "kiosk-done")
            page.get_by_role("button", name="Next voter").click()
            step(page, "login")
            expect(page.get_by_label("Login", exact=True)).to_have_value("")
            expect(page.get_by_label("Login secret", exact=True)).to_have_value("")
            assert tracker not in page.content()
            stored = page.evaluate(STORED)
            assert stored["session"] == {} and "viche.booth.queue" not in stored["local"]
            for text in (*server.login(2), server.credential(2)):
                assert text not in json.dumps(stored)
            assert _ballots(server) == 1
            screens.shot(page, "kiosk-wiped")
            # the close comes while the next voter encrypts: casting is refused
            _close_in(server, 20)
            page.reload()
            step(page, "login")
            vote(page, 3)
            expect(countdown).to_contain_text("The vote closed", timeout=60_000)
            expect(page.get_by_role("button", name="Cast the ballot")).to_be_disabled()
            expect(page.locator("#cast-msg")).to_contain_text("The vote is closed")
            screens.shot(page, "closed")
            # a ballot queued offline that reaches the server only after the close is not
            # sent: the voter is told, and the ballot forgotten
            login, _ = server.login(3)
            late = {"uuid": server.uuid, "login": login, "ballot": "{}", "tracker": "T" * 43}
            page.evaluate(
                "(q) => localStorage.setItem('viche.booth.queue', JSON.stringify([q]))",
                {**late, "close": int(time.time() * 1000) - 1000},
            )
            page.reload()
            step(page, "login")
            expect(page.locator("#queue-waiting")).to_be_visible()
            page.get_by_label("Login", exact=True).fill(login)
            page.get_by_label("Login secret", exact=True).fill(server.login(3)[1])
            page.get_by_role("button", name="Next").click()
            step(page, "queued")
            expect(page.locator("#queue-msg")).to_contain_text("The vote closed before")
            expect(page.get_by_role("heading", name="The ballot was not cast")).to_be_visible()
            screens.shot(page, "queued-late")
            assert "viche.booth.queue" not in page.evaluate(STORED)["local"]
            assert _ballots(server) == 1
            page.get_by_role("button", name="Next voter").click()
            step(page, "login")
            ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)
