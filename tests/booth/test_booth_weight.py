"""The booth's budget: every file it may load (its modules, the worker's, the catalogue, the
QR encoder and decoder, the style, the icon) weighs under 200 KB uncompressed, and its first
page does not load the crypto modules (they come after the login: booth.js startTables) nor
the QR decoder (scan.js loads it at the credential step, where the browser has no
BarcodeDetector; its worker starts on the first scan)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src/viche/web/static"
BOOTH = [
    *sorted((STATIC / "booth").glob("*.js")),
    STATIC / "booth/index.html",
    STATIC / "common/i18n.js",
    STATIC / "common/notopen.js",
    STATIC / "common/qr.js",
    STATIC / "common/style.css",
    STATIC / "favicon.svg",
]
CRYPTO = {"pool.js", "ballot.js", "fixedbase.js", "random.js", "json.js", "worker.js"}
DECODER = {"qrcanvas.js", "qrdecode.js", "qrworker.js"}


def test_the_whole_booth_weighs_under_200_kb() -> None:
    assert all(p.is_file() for p in BOOTH)
    assert sum(p.stat().st_size for p in BOOTH) < 200_000


def _static_imports(path: Path) -> set[str]:
    return set(re.findall(r'^import .* from "\./([\w.]+)";$', path.read_text(), re.M))


def test_the_first_page_loads_no_crypto_module() -> None:
    html = (STATIC / "booth/index.html").read_text()
    preloaded = set(re.findall(r'rel="modulepreload" href="([\w.]+)"', html))
    assert not preloaded & (CRYPTO | DECODER)
    seen: set[str] = set()
    todo = {"booth.js"}
    while todo:  # booth.js's static module graph
        name = todo.pop()
        seen.add(name)
        todo |= _static_imports(STATIC / "booth" / name) - seen
    assert not seen & CRYPTO, seen & CRYPTO
    assert not seen & DECODER, seen & DECODER
    assert "scan.js" in seen
    assert "credential.js" in seen and "election.js" in seen


def test_the_service_worker_keeps_every_file_of_the_booth() -> None:
    """sw.js's list is the booth (index.html as "./"), its own script aside: a file left off
    it would be missing the first time the booth is opened without a network."""
    text = (STATIC / "booth/sw.js").read_text()
    listed = set(re.findall(r'"([\w./]+\.(?:js|css|svg)|\./)"', text.split("const DATA")[0]))

    def name(p: Path) -> str:  # as the worker's scope (/booth/) sees it
        if p.name == "index.html":
            return "./"
        if p.parent == STATIC / "booth":
            return p.name
        return "../" + str(p.relative_to(STATIC))

    expected = {name(p) for p in BOOTH if p.name != "sw.js"}
    assert listed == expected


def test_the_page_and_the_service_worker_name_the_same_cache() -> None:
    """offline.js keeps the election's data in the service worker's cache; a cache of
    another name would be deleted when the worker activates, and the booth would not load
    the election without a network."""

    def cache_of(path: str) -> str:
        found = re.findall(r'const CACHE = "([^"]+)"', (STATIC / path).read_text())
        assert len(found) == 1, path
        return str(found[0])

    assert cache_of("booth/offline.js") == cache_of("booth/sw.js")
