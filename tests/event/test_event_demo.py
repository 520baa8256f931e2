"""End to end: ``viche event demo --dir DIR`` plays a national event on a synthetic registry,
``viche verify DIR`` verifies it, every ``.bel`` passes belenios-tool, the results equal the
plaintext intent; tampering with the published files is found."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from support.belenios import tool_verifies
from support.cli import run_cli
from support.qr_photos import Decoder, Shot, photograph
from viche.event.keys import EventKey
from viche.event.locks import LOCK_LOG
from viche.event.manifest import read_manifest
from viche.event.outcome import RESULTS
from viche.event.published import NATIONAL, TURNOUT, read_document, write_document
from viche.event.registry import Category, Registry
from viche.event.verify_event import verify_event
from viche.service.credentials import read_privcreds
from viche.verify.report import Status


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("event") / "demo"
    run = run_cli("event", "demo", "--dir", str(directory), "--seed", "event-e2e")
    assert run.code == 0, run.stdout + run.stderr
    return directory, run.stdout


@pytest.fixture()
def public_copy(demo: tuple[Path, str], tmp_path: Path) -> Path:
    """The published records only (no private folder): what an auditor downloads."""
    out = tmp_path / "published"
    shutil.copytree(demo[0], out, ignore=shutil.ignore_patterns("private", "*.index"))
    return out


def test_the_demo_plays_every_role_and_channel(demo: tuple[Path, str]) -> None:
    directory, stdout = demo
    assert "The verified results equal the plaintext intent" in stdout
    # re-vote after a station vote, wrong style, another voter's credential, late batch
    for refusal in ("V8050", "V8051", "V3007", "V8055"):
        assert f"({refusal} " in stdout
    assert "altered by the relay (V2" in stdout
    manifest, _ = read_manifest(directory)
    assert len(manifest.styles) >= 3
    assert manifest.excluded_units and sum(s.excluded_enrolled for s in manifest.styles) == 2
    assert {s.kind for s in manifest.stations} == {"abroad", "displaced"}
    with Registry.open(directory / "private" / "registry.sqlite") as registry:
        categories = {c for per in registry.counts().values() for c in per}
    assert categories == set(Category)
    turnout = read_document(directory / TURNOUT, "turnout", manifest.key)
    assert turnout["total"] == {"online": 8, "station": 3, "relay": 4}


def test_viche_verify_verifies_the_event(demo: tuple[Path, str], public_copy: Path) -> None:
    run = run_cli("verify", "--jobs", "1", "--json", str(public_copy))
    assert run.code == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    names = {c["name"]: c["status"] for c in report["checks"]}
    assert all(status == "passed" for status in names.values()), names
    assert {"event.station_locks", "event.national", "event.results", "style c03"} <= set(names)
    national = json.loads((demo[0] / NATIONAL).read_text())["national"]
    assert report["result"]["national"] == national["result"]
    assert sum(national["result"]) == 15  # every voter's presidential vote, once


@pytest.mark.interop
def test_every_archive_passes_belenios_tool(belenios_tool: str, public_copy: Path) -> None:
    archives = sorted(public_copy.glob("styles/*/*.bel"))
    assert len(archives) == 3
    for archive in archives:
        ok, err = tool_verifies(belenios_tool, archive.parent)
        assert ok, err


def _resign(path: Path, kind: str, key: EventKey, edit: str, value: object) -> None:
    body = json.loads(path.read_text())[kind]
    body[edit] = value
    write_document(path, kind, body, key)


def test_tampered_publications_are_found(demo: tuple[Path, str], public_copy: Path) -> None:
    key = EventKey.load_or_create(demo[0] / "private" / "keys" / "event.ed25519")
    # the commission signs a national result that is not the sum of the styles' results
    _resign(public_copy / NATIONAL, "national", key, "result", [15, 0, 0])
    # and a turnout that hides the station votes
    _resign(public_copy / TURNOUT, "turnout", key, "styles", [])
    # and someone edits a station lock
    log = public_copy / LOCK_LOG
    log.write_bytes(log.read_bytes().replace(b"DE-BERLIN-1", b"PL-WARSZAWA-1", 1))
    # and seats other than the Code's
    _resign(public_copy / RESULTS, "results", key, "regions", [])
    report = verify_event(public_copy, jobs=1)
    failed = {c.name for c in report.checks if c.status is Status.FAILED}
    assert failed == {"event.national", "event.turnout", "event.station_locks", "event.results"}
    assert not report.ok


def test_the_code_s_results_are_published(demo: tuple[Path, str]) -> None:
    manifest, _ = read_manifest(demo[0])
    results = read_document(demo[0] / RESULTS, "results", manifest.key)
    president = results["presidential"]
    assert president["participated"] == 15 and sum(president["votes"].values()) == 15
    allocation = results["parliament"]["allocation"]
    assert sum(p["seats"] for p in allocation["parties"]) == allocation["seats"] == 4
    assert "Rada seats (Arts. 183-185)" in demo[1]


def _credentials(directory: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((directory / "private" / "credential-authority").glob("*/0.privcreds")):
        out.update(read_privcreds(path))
    return out


def test_letters_hold_each_credential_once_and_no_credential_is_published(
    demo: tuple[Path, str], public_copy: Path
) -> None:
    creds = _credentials(demo[0])
    assert len(creds) == 15
    letters = demo[0] / "private" / "credential-authority" / "letters"
    pages = {p.name: p.read_text() for p in letters.glob("*.html")}
    assert {n.split("-")[0] for n in pages} == {"post", "consular", "military"}
    for path in letters.glob("*.html"):
        assert path.stat().st_mode & 0o077 == 0
    for voter, cred in creds.items():
        holding = [n for n, text in pages.items() if cred in text]
        assert len(holding) == 1, voter
        assert f'data-qr="{cred}"' in pages[holding[0]]
    published = b"".join(p.read_bytes() for p in public_copy.rglob("*") if p.is_file())
    assert not any(cred.encode() in published for cred in creds.values())


def test_a_letter_prints_with_a_qr_code_that_reads_back(
    demo: tuple[Path, str], chromium: str, zbarimg: str, node: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    creds = _credentials(demo[0])
    page_path = demo[0] / "private" / "credential-authority" / "letters" / "military-A1234.html"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox",
                                                                    "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-ready='1']")
            first = page.locator(".letter").first
            voter = first.get_attribute("data-voter")
            assert voter is not None
            first.locator(".qr svg").screenshot(path=str(tmp_path / "qr.png"))
            first.screenshot(path=str(tmp_path / "letter.png"))  # the whole letter, as printed
            pdf = page.pdf(format="A4")
        finally:
            browser.close()
    read = subprocess.run([zbarimg, "-q", "--raw", str(tmp_path / "qr.png")],
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert read.returncode == 0, read.stderr.decode()
    assert read.stdout.decode().strip() == creds[voter]
    # the letter photographed by a phone (on a table, turned, tilted, lit from one side, a
    # JPEG), read by the booth's own decoder (browsers without BarcodeDetector)
    sheet = Image.open(tmp_path / "letter.png")
    decoder = Decoder(node)
    try:
        for seed, angle in ((1, 14.0), (2, 197.0)):
            shot = Shot(width=1280, height=960, angle=angle, tilt=0.15, light=(0.4, 1.1),
                        light_angle=50.0 * seed, blur=0.8, noise=6, jpeg=80, seed=seed)  # fmt: skip
            text, _ = decoder.picture(photograph(sheet, shot, across=700))
            assert text == creds[voter]
    finally:
        decoder.close()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3  # one sheet per letter


def test_viche_event_letters_writes_the_same_letters(
    demo: tuple[Path, str], tmp_path: Path
) -> None:
    ca = demo[0] / "private" / "credential-authority"
    registry = demo[0] / "private" / "registry.sqlite"
    run = run_cli("event", "letters", "--event", str(demo[0]), "--authority", str(ca),
                  "--registry", str(registry), "--out", str(tmp_path))  # fmt: skip
    assert run.code == 0, run.stderr
    made = {p.name: p.read_bytes() for p in tmp_path.glob("*.html")}
    shown = {p.name: p.read_bytes() for p in (ca / "letters").glob("*.html")}
    assert made == shown and len(made) == 8


def test_the_demo_over_http(tmp_path: Path, belenios_tool: str) -> None:
    """``--http``: every channel through the API of a served event (SQLite board), the
    published folder downloaded from ``/api/v1/events/{id}``; it verifies, each ``.bel``
    passes belenios-tool, and the results equal the plaintext intent."""
    directory = tmp_path / "demo"
    run = run_cli("event", "demo", "--dir", str(directory), "--seed", "event-http", "--http")
    assert run.code == 0, run.stdout + run.stderr
    assert "The verified results equal the plaintext intent" in run.stdout
    for refusal in ("V8050", "V8051", "V3007", "V8055"):
        assert f"({refusal} " in run.stdout
    assert "HTTP 409" in run.stdout  # the refusals came back as the API's answers
    assert (directory / "private" / "server" / "board.sqlite").is_file()
    manifest, _ = read_manifest(directory)
    turnout = read_document(directory / TURNOUT, "turnout", manifest.key)
    assert turnout["total"] == {"online": 8, "station": 3, "relay": 4}
    assert verify_event(directory, jobs=1).ok
    for style in manifest.styles:
        ok, err = tool_verifies(belenios_tool, (directory / style.archive).parent)
        assert ok, err


def test_letters_printed_to_pdf_one_page_a_letter_with_its_credential(
    demo: tuple[Path, str], tmp_path: Path, chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--pdf``: each delivery batch also as an A4 PDF (mode 0600), one page a letter, each
    page carrying its voter's credential (read back from the PDF's text)."""
    from pypdf import PdfReader

    monkeypatch.setenv("VICHE_CHROMIUM", chromium)
    ca = demo[0] / "private" / "credential-authority"
    registry = demo[0] / "private" / "registry.sqlite"
    run = run_cli("event", "letters", "--event", str(demo[0]), "--authority", str(ca),
                  "--registry", str(registry), "--out", str(tmp_path), "--pdf")  # fmt: skip
    assert run.code == 0, run.stdout + run.stderr
    manifest, _ = read_manifest(demo[0])
    credentials = {
        cred
        for style in manifest.styles
        for cred in read_privcreds(next((ca / style.id).glob("*.privcreds"))).values()
    }
    seen: set[str] = set()
    pdfs = sorted(tmp_path.glob("*.pdf"))
    assert len(pdfs) == len(list(tmp_path.glob("*.html"))) == 8
    for pdf in pdfs:
        assert pdf.stat().st_mode & 0o777 == 0o600
        html_letters = pdf.with_suffix(".html").read_text().count('class="letter"')
        pages = PdfReader(pdf).pages
        assert len(pages) == html_letters
        for page in pages:
            text = page.extract_text()
            on_page = {c for c in credentials if c in text}
            assert len(on_page) == 1, text[:300]
            seen |= on_page
    assert seen == credentials


def test_letters_pdf_without_chromium_is_refused_before_anything_is_written(
    demo: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VICHE_CHROMIUM", "no-such-chromium-here")
    ca = demo[0] / "private" / "credential-authority"
    registry = demo[0] / "private" / "registry.sqlite"
    run = run_cli("event", "letters", "--event", str(demo[0]), "--authority", str(ca),
                  "--registry", str(registry), "--out", str(tmp_path / "out"), "--pdf")  # fmt: skip
    assert run.code != 0
    assert "V9000" in run.stdout + run.stderr and "Chromium" in run.stdout + run.stderr
    assert not (tmp_path / "out").exists()
