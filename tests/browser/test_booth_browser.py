"""The booth in a real browser: ``viche serve --demo`` on a random port, voted on through
the booth pages by Debian's Chromium driven by Playwright. Voter 1 (desktop) audits a
ballot first, then casts a fresh one; voter 2 (a 360-pixel phone, in English) votes blank
then re-votes. The record then passes ``viche verify`` and ``belenios-tool election
verify``, every downloaded receipt is in it, and the audited ballot is not.

Screenshots of every step (360x740 and 1280x800) go to $VICHE_SCREENSHOTS (default: the
test's temporary folder)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from support.browser import CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS, Screens, Server
from support.cli import run_cli
from support.qr_photos import Shot, photograph, printed
from support.served import CLI, assert_record_verifies, cli_env


def test_pages_are_served_with_a_strict_csp(server: Server) -> None:
    for path in ("/booth/", "/booth/booth.js", "/booth/worker.js", "/booth/sw.js", "/"):
        r = httpx.get(server.base + path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "worker-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert (
        httpx.get(server.base + "/booth/booth.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert b"<script>" not in httpx.get(server.base + "/booth/").content  # no inline script


def test_unknown_page_is_404_and_api_keeps_its_csp(server: Server) -> None:
    assert httpx.get(server.base + "/booth/nothing.js").status_code == 404
    r = httpx.get(f"{server.base}/api/v1/elections/{server.uuid}")
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_booth_votes_audits_and_revotes(
    server: Server,
    chromium: str,
    axe: Path,
    shots: Path,
    tmp_path: Path,
    belenios_tool: str,
    zbarimg: str,
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    screens = Screens(shots, axe)
    shot = screens.shot
    violations, errors = screens.violations, screens.errors

    def step(page: Page, name: str) -> None:
        expect(page.locator("#view")).to_have_attribute("data-step", name, timeout=TIMEOUT_MS)

    receipts: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            # ---- voter 1, desktop, Ukrainian: picks the election, a bad credential, audits
            ctx = browser.new_context(viewport=DESKTOP, accept_downloads=True)
            page = ctx.new_page()
            screens.watch(page)
            page.goto(server.base + "/booth/")
            expect(page.locator("html")).to_have_attribute("lang", "uk")
            expect(page.get_by_role("button", name="Голосувати")).to_be_visible()
            shot(page, "1-choose")
            page.get_by_role("button", name="Голосувати").click()
            step(page, "login")
            login, secret = server.login(1)
            page.get_by_label("Логін", exact=True).fill(login)
            page.get_by_label("Секрет для входу", exact=True).fill(secret)
            shot(page, "2-login")
            page.keyboard.press("Enter")  # keyboard only
            step(page, "credential")
            good = server.credential(1)
            bad = good[:-1] + ("2" if good[-1] != "2" else "3")
            page.get_by_label("Приватний ключ виборця", exact=True).fill(bad)
            expect(page.get_by_role("alert")).to_contain_text("Контрольний символ")
            shot(page, "3-credential-error")
            page.get_by_label("Приватний ключ виборця", exact=True).fill(good.replace("-", ""))
            expect(page.locator("#cred-msg")).to_contain_text("Ключ правильний")
            page.get_by_role("button", name="Далі").click()
            step(page, "question")
            # question 1: one answer or blank; the first answer
            page.locator("label.choice").first.click()
            shot(page, "4-question-1")
            page.get_by_role("button", name="Далі").click()
            # question 2: Next without an answer is refused with the rule
            expect(page.locator("h1")).to_contain_text("Питання 2 з 2")
            page.get_by_role("button", name="Далі").click()
            expect(page.get_by_role("alert")).to_contain_text("щонайменше 1")
            shot(page, "5-question-2-refused")
            page.locator("label.choice").nth(1).click()
            page.get_by_role("button", name="Далі").click()
            step(page, "review")
            shot(page, "6-review")
            page.get_by_role("button", name="Зашифрувати").click()
            step(page, "encrypted")
            shot(page, "7-encrypted")
            audited_tracker = page.locator("#tracker").inner_text()
            page.get_by_role("button", name="Перевірити (аудит)").click()
            step(page, "audit")
            shot(page, "8-audit")
            audit = json.loads(page.locator("#audit-data").inner_text())
            assert audit["tracker"] == audited_tracker
            assert audit["choices"] == [[0, 1, 0, 0, 0], [0, 1]]
            expect(page.locator("#audit-registered")).to_contain_text("ніколи його не прийме")
            # the audit file, checked by the command line against the server
            (tmp_path / "audit.json").write_text(page.locator("#audit-data").inner_text())
            checked = run_cli(
                "ballot", "audit", str(tmp_path / "audit.json"), "--server", server.base
            )
            assert checked.code == 0, checked.stderr
            assert f"ok ballot {audited_tracker} encrypts these choices" in checked.stdout
            # and the server refuses the audited ballot, even with the voter's own login
            refused = httpx.post(
                f"{server.base}/api/v1/elections/{server.uuid}/ballots",
                content=json.dumps(audit["ballot"], separators=(",", ":")).encode(),
                headers={"Content-Type": "application/json"},
                auth=server.login(1),
            )
            assert refused.status_code == 409 and refused.json()["code"] == "V3008"
            page.get_by_role("button", name="Зашифрувати знову").click()
            step(page, "encrypted")
            fresh = page.locator("#tracker").inner_text()
            assert fresh != audited_tracker
            page.get_by_role("button", name="Надіслати бюлетень").click()
            step(page, "done")
            shot(page, "9-done")
            assert page.locator("#done-tracker").inner_text() == fresh
            with page.expect_download() as dl:
                page.get_by_role("button", name="Завантажити квитанцію").click()
            receipts.append(tmp_path / "r1.json")
            dl.value.save_as(receipts[-1])
            # the receipt's QR code, as drawn on the screen, holds the downloaded receipt
            page.locator("#receipt-qr svg").screenshot(path=str(tmp_path / "qr.png"))
            read = subprocess.run(
                [zbarimg, "-q", "--raw", "-Sbinary", str(tmp_path / "qr.png")],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
            assert read.returncode == 0, read.stderr.decode()
            assert read.stdout.decode().strip() == receipts[-1].read_text().strip()
            ctx.close()

            # ---- voter 2, phone, English, by link: votes blank, then re-votes
            ctx = browser.new_context(viewport=PHONE, accept_downloads=True)
            for n, blank in ((1, True), (2, False)):
                page = ctx.new_page()
                screens.watch(page, console=False)
                page.goto(f"{server.base}/booth/#{server.uuid}")
                step(page, "login")
                if n == 1:
                    page.get_by_role("button", name="Switch to English").click()
                else:  # the choice of language is kept
                    expect(page.locator("html")).to_have_attribute("lang", "en")
                login, secret = server.login(2)
                page.get_by_label("Login", exact=True).fill(login)
                # the first time, a mistyped secret: refused when casting, nothing recorded
                page.get_by_label("Login secret", exact=True).fill(
                    secret if n == 2 else "x" + secret
                )
                if n == 1:
                    shot(page, "2-login")
                page.get_by_role("button", name="Next").click()
                page.get_by_label("Private credential", exact=True).fill(server.credential(2))
                if n == 1:
                    shot(page, "3-credential")
                page.get_by_role("button", name="Next").click()
                step(page, "question")
                if blank:
                    page.get_by_label("Blank vote (choose no answer)", exact=True).check()
                    if n == 1:
                        shot(page, "4-question-1")
                    page.get_by_role("button", name="Next").click()
                else:  # keyboard only: the radio group, the third answer, Next
                    page.keyboard.press("Tab")
                    page.keyboard.press("ArrowDown")
                    page.keyboard.press("ArrowDown")
                    expect(page.get_by_label("Iryna Bondar", exact=True)).to_be_checked()
                    page.keyboard.press("Tab")
                    expect(page.get_by_role("button", name="Next")).to_be_focused()
                    page.keyboard.press("Enter")
                expect(page.locator("h1")).to_contain_text("Question 2 of 2")
                page.locator("label.choice").first.click()
                page.get_by_role("button", name="Next").click()
                step(page, "review")
                if n == 1:
                    shot(page, "6-review")
                page.get_by_role("button", name="Encrypt").click()
                step(page, "encrypted")
                if n == 1:
                    shot(page, "7-encrypted")
                page.get_by_role("button", name="Cast the ballot").click()
                if n == 1:
                    step(page, "login")
                    expect(page.get_by_role("alert")).to_have_text("Wrong login or secret.")
                    shot(page, "9-refused-login")
                    page.get_by_label("Login secret", exact=True).fill(secret)
                    page.get_by_role("button", name="Next").click()
                    step(page, "credential")  # the credential and the answers are kept
                    page.get_by_role("button", name="Next").click()
                    expect(
                        page.get_by_label("Blank vote (choose no answer)", exact=True)
                    ).to_be_checked()
                    page.get_by_role("button", name="Next").click()
                    page.get_by_role("button", name="Next").click()
                    step(page, "review")
                    page.get_by_role("button", name="Encrypt").click()
                    step(page, "encrypted")
                    page.get_by_role("button", name="Cast the ballot").click()
                step(page, "done")
                if n == 2:
                    expect(page.get_by_text("This is a re-vote")).to_be_visible()
                    shot(page, "9-done-revote")
                with page.expect_download() as dl:
                    page.get_by_role("button", name="Download the receipt").click()
                receipts.append(tmp_path / f"r2-{n}.json")
                dl.value.save_as(receipts[-1])
                if n == 2:  # the done page links to the ballot box, the tracker searched
                    page.get_by_role("link", name="Find your ballot in the ballot box").click()
                    expect(page.locator("#found")).to_have_text("1 of 3 found")
                page.close()
            revote_tracker = json.loads(receipts[-1].read_text())["receipt"]["tracker"]
            # ---- the public pages: the election, then its ballot box (searchable)
            page = ctx.new_page()
            screens.watch(page, console=False)
            page.goto(f"{server.base}/#{server.uuid}")
            expect(page.locator("#view")).to_have_attribute("data-ready", "1")
            expect(page.get_by_role("heading", name="Viche demo election")).to_be_visible()
            expect(page.get_by_text("Ballots in the record: 3")).to_be_visible()
            shot(page, "10-election-page")
            page.get_by_role("link", name="Ballot box").click()
            expect(page.locator("#found")).to_have_text("3 of 3 found")
            page.get_by_label("Find a tracker", exact=True).fill(revote_tracker[:12])
            expect(page.locator("#found")).to_have_text("1 of 3 found")
            expect(page.locator("tbody")).to_contain_text(revote_tracker)
            page.get_by_label("Find a tracker", exact=True).fill(audited_tracker)
            expect(page.locator("#found")).to_have_text("0 of 3 found")
            shot(page, "11-ballot-box")
            ctx.close()
        finally:
            browser.close()
    assert errors == []
    assert violations == [], "\n".join(violations)

    archive = tmp_path / "record" / f"{server.uuid}.bel"
    archive.parent.mkdir()
    archive.write_bytes(
        httpx.get(f"{server.base}/api/v1/elections/{server.uuid}/archive.bel").content
    )
    # the audited ballot was never cast: its first ciphertext is nowhere in the record
    alpha = audit["ballot"]["answers"][0]["choices"][0]["alpha"]
    assert alpha.encode() not in archive.read_bytes()
    assert httpx.get(f"{server.base}/api/v1/elections/{server.uuid}").json()["ballots"] == 3
    for receipt in receipts:
        check = subprocess.run(
            [*CLI, "receipt", "check", str(receipt), str(archive)],
            capture_output=True, env=cli_env(), timeout=120, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert_record_verifies(archive, belenios_tool)


def _credential_photo(node: str, credential: str, path: Path, seed: int) -> Path:
    """A phone's photo (JPEG) of the credential's QR code on its letter (qr_photos.py): the
    booth encoder's code, as `viche event letters` prints it, on a sheet on a table,
    turned, tilted, lit from one side."""
    out = subprocess.run(
        [node, str(Path(__file__).parents[1] / "booth/js/qr_matrix.mjs")],
        input=json.dumps([credential]).encode(), capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    [rows] = json.loads(out.stdout)
    shot = Shot(width=1024, height=768, angle=17.0 + 130 * seed, tilt=0.15, light=(0.4, 1.1),
                light_angle=60.0 * seed, blur=1.0, noise=6, seed=seed)  # fmt: skip
    picture = photograph(printed(rows, quiet=3), shot, across=420)
    Image.fromarray(picture).save(path, "JPEG", quality=85)
    return path


def test_credential_read_from_a_photo_of_its_qr_code(
    server: Server, chromium: str, node: str, axe: Path, shots: Path, tmp_path: Path
) -> None:
    """Headless Linux Chromium has no BarcodeDetector: the booth reads the photo with its own
    decoder (qrdecode.js in a worker), fills the credential, checks it and goes on."""
    from playwright.sync_api import expect, sync_playwright

    screens = Screens(shots, axe)
    good = server.credential(3)
    bad = good[:-1] + ("2" if good[-1] != "2" else "3")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page())
            page.goto(f"{server.base}/booth/#{server.uuid}")
            assert page.evaluate("() => typeof BarcodeDetector") == "undefined"
            page.get_by_role("button", name="English").click()
            login, secret = server.login(3)
            page.get_by_label("Login", exact=True).fill(login)
            page.get_by_label("Login secret", exact=True).fill(secret)
            page.keyboard.press("Enter")
            expect(page.get_by_role("button", name="Photo of the QR code")).to_be_visible()
            expect(page.get_by_role("button", name="Scan with the camera")).to_be_visible()
            page.screenshot(path=str(tmp_path / "page.png"))  # a picture without a code
            page.locator("#scan-file").set_input_files(tmp_path / "page.png")
            expect(page.get_by_role("alert")).to_contain_text("No QR code found")
            page.locator("#scan-file").set_input_files(
                _credential_photo(node, bad, tmp_path / "bad.jpg", 1)
            )
            expect(page.get_by_role("alert")).to_contain_text("The check character does not match")
            assert page.get_by_label("Private credential", exact=True).input_value() == bad
            page.locator("#scan-file").set_input_files(
                _credential_photo(node, good, tmp_path / "good.jpg", 2)
            )
            expect(page.locator("#cred-msg")).to_contain_text("The credential is well formed.")
            assert page.get_by_label("Private credential", exact=True).input_value() == good
            screens.shot(page, "3-credential-scanned")
            page.get_by_role("button", name="Next").click()
            expect(page.locator("#view")).to_have_attribute("data-step", "question")
            ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)


def _y4m(picture: NDArray[np.uint8], path: Path) -> Path:
    """One grey frame as a Y4M video (4:2:0, neutral chroma), for Chromium's fake camera."""
    h, w = picture.shape
    chroma = bytes([128]) * ((w // 2) * (h // 2))
    head = f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(head + b"FRAME\n" + picture.tobytes() + chroma + chroma)
    return path


def test_credential_scanned_with_the_camera(
    server: Server, chromium: str, node: str, tmp_path: Path
) -> None:
    """The camera (Chromium's fake device playing a photo of the letter) is read frame by
    frame by our decoder in its worker until the credential is found."""
    from playwright.sync_api import expect, sync_playwright

    good = server.credential(3)
    photo = _credential_photo(node, good, tmp_path / "cam.jpg", 3)
    frame = np.asarray(Image.open(photo).convert("L").resize((640, 480)), dtype=np.uint8)
    video = _y4m(frame, tmp_path / "cam.y4m")
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        try:
            ctx = browser.new_context(viewport=PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = ctx.new_page()
            page.goto(f"{server.base}/booth/#{server.uuid}")
            page.get_by_role("button", name="English").click()
            login, secret = server.login(3)
            page.get_by_label("Login", exact=True).fill(login)
            page.get_by_label("Login secret", exact=True).fill(secret)
            page.keyboard.press("Enter")
            page.get_by_role("button", name="Scan with the camera").click()
            expect(page.locator("#cred-msg")).to_contain_text("The credential is well formed.")
            assert page.get_by_label("Private credential", exact=True).input_value() == good
            expect(page.get_by_role("button", name="Scan with the camera")).to_be_visible()
            ctx.close()
        finally:
            browser.close()
