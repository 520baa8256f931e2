"""Credential letters: what the credential authority prints and sends, by category.

Each voter's private credential goes out on paper, never through the voting server: the
authority's own machine writes print-ready HTML pages (one letter per sheet, Ukrainian),
grouped for delivery:

* ``post-<constituency>.html`` — residents and displaced voters, by post (displaced voters
  at their current address);
* ``consular-<post>.html`` — citizens abroad, through their consular post;
* ``military-<unit>.html`` — soldiers, one batch per unit code (never a location).

A letter names the voter, her ballot style and election, the closing time and the ways to
vote, and gives the credential as text and as a QR code. The QR code is drawn when the page
opens, by the booth's own encoder (``web/static/common/qr.js``, inlined: the page needs no
network), so there is one QR encoder in Viche. The files hold secrets: mode 0600; print them
on an offline machine and destroy them after printing.

With ``--pdf`` each page is also printed to a PDF (A4, mode 0600) by a headless Chromium
(:func:`print_pdf`): the page draws its QR codes as SVG, which Chromium keeps as vector
paths, and Ukrainian text in an embedded font. Chromium runs with a fresh profile in a
private temporary folder, removed afterwards, and every request it might make goes to a
proxy that does not exist (a closed port of 127.0.0.1), so that nothing of a letter is kept
or sent; the page itself loads nothing (its script and styles are inline).
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from viche.errors import EnrolmentError, Location, UsageError
from viche.event.manifest import Manifest
from viche.event.registry import Category, Voter
from viche.service.files import write_bytes, write_text

_CSS = """
body { font-family: "DejaVu Sans", sans-serif; margin: 0; color: #000; }
.letter { width: 170mm; min-height: 250mm; margin: 10mm auto; page-break-after: always; }
.letter h1 { font-size: 16pt; }
.cred { font-family: "DejaVu Sans Mono", monospace; font-size: 16pt; letter-spacing: 1px; }
.qr { width: 45mm; height: 45mm; }
.qr svg { width: 100%; height: 100%; }
.secret { border: 2px solid #000; padding: 4mm; }
@page { size: A4; margin: 15mm; }
@media print { .letter { margin: 0 auto; } }
"""

_RENDER = """
for (const el of document.querySelectorAll("[data-qr]")) {
  el.replaceChildren(qrSvg(el.dataset.qr, el.dataset.label));
}
document.body.dataset.ready = "1";
"""


@dataclass(frozen=True)
class LetterBatch:
    path: Path
    letters: int


def batch_name(voter: Voter) -> str:
    """The delivery batch of a voter's letter (a file name without suffix)."""
    if voter.category is Category.ABROAD:
        return f"consular-{voter.consular_post}"
    if voter.category is Category.MILITARY:
        return f"military-{voter.unit}"
    return f"post-{voter.home_constituency}"


def _letter(voter: Voter, style_id: str, credential: str, manifest: Manifest) -> str:
    style = manifest.style(style_id)
    e = html.escape
    name = " ".join(p for p in (voter.given_name, voter.patronymic, voter.surname) if p)
    ways = {
        Category.RESIDENT: "онлайн у кабіні голосування Віче",
        Category.ABROAD: "онлайн або особисто на виборчій дільниці за кордоном",
        Category.MILITARY: "онлайн (кабіна працює і без зв'язку) або через ретранслятор вашої "
        "частини",
        Category.DISPLACED: "онлайн або особисто на дільниці для внутрішньо переміщених осіб",
    }[voter.category]
    return f"""<section class="letter" data-voter="{e(voter.voter_id)}">
<h1>Ваші облікові дані для голосування</h1>
<p>Шановна / шановний {e(name)},</p>
<p>ви зареєстровані у виборчому окрузі <strong>{e(style.constituency)}</strong>
(бюлетень «{e(style.id)}», вибори {e(style.election)}) події «{e(manifest.name)}».
Голосувати можна {e(ways)} до {e(manifest.closes)}.</p>
<div class="secret">
<p>Ваші приватні облікові дані (нікому їх не показуйте):</p>
<p class="cred">{e(credential)}</p>
<div class="qr" data-qr="{e(credential)}" data-label="QR-код облікових даних"></div>
</div>
<p>Ви можете голосувати кілька разів онлайн: враховується останній бюлетень. Якщо ви
проголосуєте особисто на дільниці, саме цей голос буде врахований, і пізніші онлайн-бюлетені
не приймаються. Ніхто — ні комісія, ні сервер — не знає цих даних, крім вас.</p>
<p>Номер виборця: {e(voter.voter_id)}</p>
</section>
"""


def _page(title: str, letters: list[str]) -> str:
    qr_js = (resources.files("viche") / "web" / "static" / "common" / "qr.js").read_text("utf-8")
    return (
        '<!doctype html>\n<html lang="uk">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "".join(letters)
        + f'<script type="module">\n{qr_js}\n{_RENDER}</script>\n</body>\n</html>\n'
    )


def write_letters(
    out: Path,
    manifest: Manifest,
    credentials: Mapping[str, tuple[str, str]],
    person: Callable[[str], Voter | None],
) -> list[LetterBatch]:
    """One print file per delivery batch in ``out`` (mode 0600); ``credentials`` maps a
    voter id to her (style id, private credential), ``person`` looks a voter up in the
    registry."""
    batches: dict[str, list[str]] = {}
    for voter_id, (style_id, credential) in sorted(credentials.items()):
        voter = person(voter_id)
        if voter is None:
            raise EnrolmentError(
                f"voter {voter_id!r} has a credential but is not in the registry",
                where=Location(path=("credentials", voter_id)),
            )
        batches.setdefault(batch_name(voter), []).append(
            _letter(voter, style_id, credential, manifest)
        )
    made: list[LetterBatch] = []
    out.mkdir(parents=True, exist_ok=True)
    for name, letters in sorted(batches.items()):
        path = out / f"{name}.html"
        write_text(path, _page(f"{manifest.name}: {name}", letters), secret=True)
        made.append(LetterBatch(path, len(letters)))
    return made


#: the browser that prints the letters to PDF, unless ``$VICHE_CHROMIUM`` names one
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    """The Chromium that prints letters to PDF: ``$VICHE_CHROMIUM`` or the first of
    :data:`CHROMIUMS` on the ``PATH``."""
    named = os.environ.get("VICHE_CHROMIUM")
    names = (named,) if named else CHROMIUMS
    found = next((p for p in map(shutil.which, names) if p), None)
    if found is None:
        raise UsageError(
            "printing letters to PDF needs Chromium (Debian: apt-get install chromium), or "
            "VICHE_CHROMIUM naming it; the HTML letters are written and print from any browser",
            where=Location(path=("--pdf",)),
        )
    return found


def print_pdf(page: Path, pdf: Path, chromium: str, timeout: float = 120.0) -> None:
    """Print the letters' HTML ``page`` to ``pdf`` (mode 0600) with a headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="viche-letters-") as profile:
        os.chmod(profile, 0o700)
        out = Path(profile) / "letters.pdf"
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            f"--user-data-dir={profile}", "--no-pdf-header-footer",
            "--virtual-time-budget=5000", f"--print-to-pdf={out}", page.resolve().as_uri(),
        ]  # fmt: skip
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UsageError(
                f"Chromium could not print the letters: {type(exc).__name__}",
                where=Location(file=str(page)),
            ) from None
        if run.returncode != 0 or not out.is_file() or out.read_bytes()[:5] != b"%PDF-":
            raise UsageError(
                f"Chromium could not print the letters (exit {run.returncode})",
                where=Location(file=str(page)),
            )
        data = out.read_bytes()
    write_bytes(pdf, data, mode=0o600)
