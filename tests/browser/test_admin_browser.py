"""The commission's pages in a real browser (Debian's Chromium, Playwright): a whole election
run from /admin/ on a served ``viche serve``: created from a template with the server
administrator's secret, a roll refused line by line then imported, the credential
authority's public credentials and the trustee's key uploaded, opened, voted (two voters
through the API, one refused login), turnout and refusals watched, closed, the trustee's
partial decryption uploaded, the result published; then the public result page. Desktop in
Ukrainian, the phone in English; every page checked by axe-core and screenshotted. The
record passes ``viche verify`` and ``belenios-tool election verify``; no secret is ever in
an address the browser asked for."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from support.browser import CHROMIUM_ARGS, DESKTOP, PHONE, TIMEOUT_MS, Screens, Server
from support.served import assert_record_verifies
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.errors import Location
from viche.protocol import codec
from viche.protocol.election import Election, PublicCredentials
from viche.service import archive as arch
from viche.service import credentials as creds
from viche.service import tally
from viche.service.ballot import generate_ballot
from viche.service.demo import DEMO_TEMPLATE
from viche.service.setup import new_trustee_key

JSON = "application/json"


def test_a_whole_election_from_the_admin_pages(
    server: Server, chromium: str, axe: Path, shots: Path, tmp_path: Path, belenios_tool: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    screens = Screens(shots, axe)
    shot = screens.shot
    rng = SeededRandom("admin-pages")
    server_secret = (server.data / "admin.secret").read_text().strip()
    asked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=DESKTOP, accept_downloads=True)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page(), console=False)  # refusals log HTTP errors
            page.on("request", lambda r: asked.append(r.url))
            page.goto(server.base + "/admin/")
            expect(page.locator("html")).to_have_attribute("lang", "uk")
            shot(page, "admin-1-signin")
            page.get_by_label("Секрет адміністратора сервера", exact=True).fill("wrong")
            page.keyboard.press("Enter")  # keyboard only
            expect(page.locator("#view")).to_have_attribute("data-view", "create")
            page.get_by_label("Шаблон виборів (JSON: name, description, questions)").fill(
                json.dumps(DEMO_TEMPLATE, ensure_ascii=False)
            )
            page.get_by_role("button", name="Створити", exact=True).click()
            expect(page.get_by_role("alert")).to_have_text("Секрет не підходить для цієї дії.")
            page.get_by_role("button", name="Назад").click()
            page.get_by_label("Секрет адміністратора сервера", exact=True).fill(server_secret)
            page.get_by_role("button", name="Створити вибори").click()
            page.get_by_label("Шаблон виборів (JSON: name, description, questions)").fill(
                json.dumps(DEMO_TEMPLATE, ensure_ascii=False)
            )
            shot(page, "admin-2-create")
            page.get_by_role("button", name="Створити", exact=True).click()
            expect(page.locator("#view")).to_have_attribute("data-view", "manage")
            expect(page.locator("#secrets")).to_be_visible()
            secrets = dict(
                line.split(" ", 1) for line in page.locator("#secrets").inner_text().splitlines()
            )
            uuid = secrets["election"]
            expect(page.locator("#roll-send")).to_be_visible()
            shot(page, "admin-3-created")
            page.get_by_role("button", name="Я зберіг секрети").click()

            # the roll: every bad line reported, then a good one
            roll = page.locator("#roll-source")
            roll.fill("a@x.org,alice\n,bob\na@x.org,alice\n")
            page.locator("#roll-send").click()
            report = page.locator("#roll-report tbody tr")
            expect(report).to_have_count(2)
            expect(report.nth(0).locator("td").first).to_have_text("2")
            expect(report.nth(1).locator("td").first).to_have_text("3")
            shot(page, "admin-4-roll-report")
            roll.fill("a@x.org,alice\nb@x.org,bob\nc@x.org,carol\n")
            page.locator("#roll-send").click()
            expect(page.locator("#roll-ok")).to_contain_text("3")
            with page.expect_download() as dl:
                page.get_by_role("button", name="Завантажити логіни й секрети (CSV)").click()
            dl.value.save_as(tmp_path / "logins.csv")
            logins = dict(
                line.split(",") for line in (tmp_path / "logins.csv").read_text().splitlines()
            )
            assert set(logins) == {"alice", "bob", "carol"}

            # the credential authority, on its own machine, then its upload
            base = f"{server.base}/api/v1/elections/{uuid}"
            ca = {"Authorization": f"Bearer {secrets['credential-authority']}"}
            voters = creds.parse_voters(
                httpx.get(f"{base}/voters", headers=ca).text, Location(path=("roll",))
            )
            cset = creds.generate_credentials(BELENIOS_2048, uuid, voters, rng)
            (tmp_path / "pubcreds.json").write_bytes(codec.to_bytes(cset.pubcreds_json()))
            page.locator("#creds-source").set_input_files(tmp_path / "pubcreds.json")
            page.locator("#creds-send").click()
            expect(page.locator("#creds-ok")).to_contain_text("3")
            key = new_trustee_key(BELENIOS_2048, tmp_path, rng)
            page.locator("#trustee1-source").set_input_files(key.pubkey)
            page.locator("#trustee1-send").click()
            expect(page.locator("#trustee1-ok")).to_be_visible()
            shot(page, "admin-5-setup-done")
            page.get_by_role("button", name="Відкрити", exact=True).click()
            expect(page.locator("#flash")).to_contain_text("Голосування відкрито")
            expect(page.locator("#turnout-count")).to_have_text("Бюлетенів у записі: 0")

            # two voters through the API, one refused login
            detail = httpx.get(base).json()
            election = Election.from_bytes(
                httpx.get(f"{base}/objects/{detail['setup']['election']}").content
            )
            pub = PublicCredentials.from_bytes(
                httpx.get(f"{base}/objects/{detail['setup']['credentials']}").content
            )
            order = [v.login for v in voters]
            for login, choices in (
                ("alice", [[0, 0, 1, 0, 0], [1, 0]]),
                ("bob", [[0, 1, 0, 0, 0], [0, 1]]),
            ):
                raw = generate_ballot(
                    election, pub, cset.private[order.index(login)], choices, rng
                ).raw
                r = httpx.post(
                    f"{base}/ballots",
                    content=raw,
                    headers={"Content-Type": "application/json"},
                    auth=(login, logins[login]),
                )
                assert r.status_code == 201, r.text
            r = httpx.post(
                f"{base}/ballots", content=b"{}", headers={"Content-Type": "application/json"},
                auth=("carol", "not-her-secret"),
            )  # fmt: skip
            assert r.status_code == 401
            page.get_by_role("button", name="Оновити").click()
            expect(page.locator("#turnout-count")).to_have_text("Бюлетенів у записі: 2")
            expect(page.locator("#refusals")).to_contain_text("V9")
            shot(page, "admin-6-turnout")
            page.get_by_role("button", name="Закрити голосування").click()
            expect(page.locator("#close-msg")).to_contain_text("не можна скасувати")
            page.get_by_role("button", name="Так, закрити голосування").click()
            expect(page.locator("#flash")).to_contain_text("враховано 2 з 2")
            shot(page, "admin-7-closed")

            # the trustee decrypts on her own side, uploads the two lines
            record = tmp_path / "closed"
            record.mkdir()
            (record / f"{uuid}.bel").write_bytes(httpx.get(f"{base}/archive.bel").content)
            with arch.open_record(record) as state:
                lines = tally.partial_decryption(state, tally.single_key(key.privkey), 1, rng)
            (tmp_path / "decryption.txt").write_text(lines.text())
            page.locator("#dec1-source").set_input_files(tmp_path / "decryption.txt")
            page.locator("#dec1-send").click()
            expect(page.locator("#dec1-ok")).to_be_visible()
            page.get_by_role("button", name="Опублікувати результат").click()
            expect(page.locator("#result-1")).to_contain_text("Olena Kovalenko")
            first = page.locator("#result-1 tr")
            expect(first.nth(0).locator("td")).to_have_text("1")  # bob: Olena Kovalenko
            expect(first.nth(1).locator("td")).to_have_text("1")  # alice: Taras Shevchuk
            expect(first.nth(4).locator("td")).to_have_text("0")  # no blank vote
            shot(page, "admin-8-published")
            page.get_by_role("link", name="Результати").click()
            expect(page.locator("#result-status")).to_contain_text("перевірено в цьому браузері")
            shot(page, "result-page")
            ctx.close()

            # the same pages on a phone, in English: sign in to the election, the result
            ctx = browser.new_context(viewport=PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page())
            page.on("request", lambda r: asked.append(r.url))
            page.goto(server.base + "/admin/")
            page.get_by_role("button", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
            shot(page, "admin-1-signin")
            page.get_by_label("Election identifier (uuid)").fill(uuid)
            page.get_by_label("Election administrator's secret").fill(secrets["administrator"])
            page.get_by_role("button", name="Manage").click()
            expect(page.get_by_role("link", name="Result")).to_be_visible()
            shot(page, "admin-9-tallied")
            page.get_by_role("link", name="Result").click()
            expect(page.locator("#result-status")).to_contain_text("checked in this browser")
            expect(page.get_by_text("Ballots counted: 2")).to_be_visible()
            table = page.get_by_role("table", name="1. Who should chair the assembly?")
            expect(table.locator("tbody tr")).to_have_count(5)  # four answers and blank
            expect(page.locator("#verify-commands")).to_contain_text(f"viche verify {uuid}")
            shot(page, "result-page")
            # the election page links to its result
            page.goto(f"{server.base}/#{uuid}")
            expect(page.locator("#result-link")).to_be_visible()
            page.goto(f"{server.base}/#{server.uuid}/result")  # the demo: not tallied
            expect(page.get_by_text("No result yet")).to_be_visible()
            shot(page, "result-none")
            ctx.close()
        finally:
            browser.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)
    every_secret = [server_secret, *secrets.values(), *logins.values()]
    assert not [u for u in asked for s in every_secret if s in u and s != uuid]

    archive = tmp_path / "record" / f"{uuid}.bel"
    archive.parent.mkdir()
    archive.write_bytes(httpx.get(f"{base}/archive.bel").content)
    assert_record_verifies(archive, belenios_tool)


# question 2 ranks 4 colours (1 best), question 3 grades 3 cities 1 (best) to 5
RANKED_VOTES = [
    [[1, 0], [1, 2, 3, 4], [1, 2, 5]],
    [[0, 1], [2, 1, 3, 4], [2, 1, 4]],
    [[1, 0], [1, 3, 2, 4], [1, 3, 3]],
]


def test_the_result_page_gives_the_outcomes_of_ranked_questions(
    chromium: str, axe: Path, shots: Path, tmp_path: Path, templates_dir: Path
) -> None:
    """Issue 7: the result page gives the decrypted ballots of a question tallied through
    shuffles and its outcome by Condorcet-Schulze, STV and majority judgment (it gave the
    ballots only). A tallied ranked record served read-only, as an observer's mirror
    serves it."""
    import threading
    import time

    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    from support.served import free_port
    from viche.crypto.group import RFC_3526_2048
    from viche.record import resolve_archive
    from viche.record.sql import SqlBoard
    from viche.service.election_run import Stop, Vote
    from viche.service.hosting import Host
    from viche.service.mirror import sync_board
    from viche.service.setup import read_template
    from viche.testing.factories import make_election, plan_for
    from viche.web.app import create_app

    plan = plan_for(
        template=read_template(templates_dir / "nh.json"),
        group=RFC_3526_2048,
        votes=[Vote(i, v) for i, v in enumerate(RANKED_VOTES)],
        voters=len(RANKED_VOTES),
        singles=1,
        stop=Stop.DECRYPTED,
    )
    run, _ = make_election(tmp_path / "e", plan, seed="ranked-page")
    with arch.open_record(run.archive.parent) as state:
        tally.publish_result(state)
    board = SqlBoard.open(f"sqlite:///{tmp_path / 'board.sqlite'}")
    sync_board(board, resolve_archive(run.archive.parent), "key")
    app = create_app(Host(board, tmp_path / "keys"), read_only=True)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    screens = Screens(shots, axe)
    try:
        while not web.started:
            time.sleep(0.05)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = screens.watch(browser.new_page(viewport=PHONE))
                page.goto(f"http://127.0.0.1:{port}/#{run.uuid}/result")
                page.get_by_role("button", name="English").click()
                expect(page.locator("#result-status")).to_contain_text(
                    "checked in this browser", timeout=TIMEOUT_MS
                )
                ranked = page.locator("#outcomes-1")  # question 2, 0-based 1
                schulze = "Condorcet-Schulze: 1. Red; 2. Green; 3. Blue; 4. Black"
                expect(ranked).to_contain_text(schulze)
                expect(ranked).to_contain_text("Single transferable vote (1 seat(s)): elected Red")
                expect(ranked).to_contain_text("Majority judgment (4 grades, 1 best): 1. Red")
                graded = page.locator("#outcomes-2")
                expect(graded).to_contain_text("Majority judgment (5 grades, 1 best): 1. Paris")
                expect(page.locator("#outcomes-0")).to_have_count(0)  # counted, not ranked
                screens.shot(page, "result-ranked")
                page.get_by_role("button", name="Українська").click()
                expect(page.locator("#outcomes-1")).to_contain_text("Кондорсе-Шульце")
            finally:
                browser.close()
    finally:
        web.should_exit = True
        thread.join(timeout=30)
        board.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)


def test_a_ranked_election_closes_its_shuffles_from_the_admin_page(
    server: Server, chromium: str, axe: Path, shots: Path, tmp_path: Path, templates_dir: Path
) -> None:
    """After the close of an election with ranked questions the trustees shuffle (``viche
    trustee shuffle``), then the administrator closes the shuffles before any decryption:
    the admin page offers that step (it offered only the decryptions, refused 409 until the
    shuffles were closed by hand over the API). An election without ranked questions has
    no such step (the first test)."""
    from playwright.sync_api import expect, sync_playwright

    from support.cli import run_cli
    from viche.crypto.group import RFC_3526_2048
    from viche.web.client import VotingClient

    rng = SeededRandom("admin-ranked")
    template = json.loads((templates_dir / "nh.json").read_text())
    api = httpx.Client(base_url=server.base, timeout=120)
    server_secret = (server.data / "admin.secret").read_text().strip()

    def bearer(secret: str, ctype: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", **({"Content-Type": ctype} if ctype else {})}

    spec = {"template": template, "group": "RFC-3526-2048", "trustees": 1}
    made = api.post("/api/v1/elections", json=spec, headers=bearer(server_secret)).json()
    uuid, adm, ca = made["uuid"], made["administrator"], made["credential_authority"]
    base = f"/api/v1/elections/{uuid}"
    r = api.put(f"{base}/voters", content="ann@x.org,ann\n", headers=bearer(adm, "text/csv"))
    logins = r.json()["login_secrets"]
    voters = creds.parse_voters(api.get(f"{base}/voters", headers=bearer(ca)).text, Location())
    cset = creds.generate_credentials(RFC_3526_2048, uuid, voters, rng)
    pubcreds = codec.to_bytes(cset.pubcreds_json())
    assert api.put(f"{base}/credentials", content=pubcreds, headers=bearer(ca, JSON)).is_success
    key = new_trustee_key(RFC_3526_2048, tmp_path, rng)
    line = key.pubkey.read_bytes().strip()
    trustee = made["trustees"][0]
    assert api.put(f"{base}/trustees/1", content=line, headers=bearer(trustee, JSON)).is_success
    assert api.post(f"{base}/open", headers=bearer(adm)).is_success
    client = VotingClient(server.base)
    try:
        client.vote(
            uuid, private_credential=cset.private[0], choices=[[1, 0], [1, 2, 3, 4], [5, 0, 1]],
            login="ann", secret=logins["ann"], rng=rng,
        )  # fmt: skip
    finally:
        client.close()
    assert api.post(f"{base}/close", headers=bearer(adm)).is_success
    (tmp_path / "t1.secret").write_text(trustee + "\n")
    shuffled = run_cli(
        "trustee", "shuffle", server.base, "--election", uuid, "--secret-file",
        str(tmp_path / "t1.secret"), "--trustee", "1", "--dir", str(tmp_path / "t1"),
    )  # fmt: skip
    assert shuffled.code == 0, shuffled.stderr

    screens = Screens(shots, axe)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport=PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            page = screens.watch(ctx.new_page())
            page.goto(server.base + "/admin/")
            page.get_by_role("button", name="English").click()
            page.get_by_label("Election identifier (uuid)").fill(uuid)
            page.get_by_label("Election administrator's secret").fill(adm)
            page.get_by_role("button", name="Manage").click()
            close = page.get_by_role("button", name="Close the shuffles")
            expect(close).to_be_visible()
            shot = screens.shot
            shot(page, "admin-ranked-shuffled")
            close.click()
            expect(page.locator("#flash")).to_contain_text("1 shuffle(s)")
            expect(page.get_by_role("button", name="Close the shuffles")).to_have_count(0)
            expect(page.locator("#dec1-send")).to_be_visible()
            shot(page, "admin-ranked-decrypt")
            ctx.close()
        finally:
            browser.close()
    assert api.get(base).json()["head"]["type"] == "EndShuffles"
    api.close()
    assert screens.errors == []
    assert screens.violations == [], "\n".join(screens.violations)
