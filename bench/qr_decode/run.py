"""The booth's QR decoder (static/booth/qrdecode.js): success rate and time per frame on a
set of photograph-like pictures (tests/support/qr_photos.py: codes made by segno, turned,
tilted, blurred, noisy, lit from one side, JPEG), at 640x480 and 1280x720, beside zbarimg
on the same pictures; in Node and in headless Chromium (Playwright, Debian's chromium: the
decoder called directly, and the booth's whole path — scan.js's detector: canvas, worker —
from an ImageBitmap); a frame without a code (what the camera mostly sees); the booth's
weight with the decoder, which its first page does not load.

    python bench/qr_decode/run.py [--count 60]

zbarimg's time includes starting the process (it reads a file); ours is the decode alone
(Node, Chromium direct) or the booth's detect() (Chromium via worker)."""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from support.qr_photos import Decoder, photo_set, save_png, zbar  # noqa: E402

STATIC = ROOT / "src/viche/web/static"
BOOTH_FILES = [*sorted((STATIC / "booth").glob("*.js")), STATIC / "booth/index.html",
               STATIC / "common/i18n.js", STATIC / "common/qr.js",
               STATIC / "common/style.css", STATIC / "favicon.svg"]  # fmt: skip
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip

IN_PAGE = """async (names) => {
  const { decodeQr } = await import("/booth/qrdecode.js");
  const { qrDetector } = await import("/booth/scan.js");
  const detector = await qrDetector();
  const out = [];
  for (const name of names) {
    const bitmap = await createImageBitmap(await (await fetch("/photos/" + name)).blob());
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    const image = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    let t0 = performance.now();
    const text = decodeQr(image);
    const direct = performance.now() - t0;
    t0 = performance.now();
    const found = await detector.detect(bitmap);
    const worker = performance.now() - t0;
    out.push({ text, direct, worker, viaWorker: found[0]?.rawValue ?? null });
  }
  return { out, native: typeof BarcodeDetector !== "undefined" };
}"""


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]
    return f"median {statistics.median(values):.0f} ms, p90 {q:.0f} ms"


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        extensions_map = {  # noqa: RUF012 (the base class's own attribute, extended)
            **http.server.SimpleHTTPRequestHandler.extensions_map,
            ".js": "text/javascript",
        }

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=60, help="pictures at each size")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    node, zbarimg, chromium = (
        shutil.which("node"),
        shutil.which("zbarimg"),
        shutil.which("chromium"),
    )
    if not (node and zbarimg and chromium):
        sys.exit("node, zbarimg and chromium are needed")
    work = Path(tempfile.mkdtemp(prefix="viche-bench-qr-"))
    (work / "photos").mkdir()
    for part in ("booth", "common"):
        (work / part).symlink_to(STATIC / part)
    decoder = Decoder(node)
    httpd, base = _serve(work)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page()
            page.goto(f"{base}/booth/package.json")
            for width, height in ((640, 480), (1280, 720)):
                pictures = photo_set(args.count, seed=7, width=width, height=height)
                # a frame with no code at all: the table
                blank = photo_set(1, seed=99, width=width, height=height)[0][2].copy()
                blank[:] = blank.mean()
                names, z_ok, z_ms, n_ok, n_ms = [], [], [], [], []
                for i, (text, _shot, picture) in enumerate(pictures):
                    name = f"{width}-{i}.png"
                    names.append(name)
                    t0 = time.perf_counter()
                    z_ok.append(zbar(zbarimg, picture, work / "photos" / name) == text)
                    z_ms.append((time.perf_counter() - t0) * 1000)
                    got, ms = decoder.picture(picture)
                    n_ok.append(got == text)
                    n_ms.append(ms)
                save_png(blank, work / "photos" / f"{width}-blank.png")
                _, blank_node = decoder.picture(blank)
                answer = page.evaluate(IN_PAGE, [*names, f"{width}-blank.png"])
                rows = answer["out"]
                c_ok = [r["text"] == t for r, (t, _, _) in zip(rows, pictures, strict=False)]
                w_ok = [r["viaWorker"] == t for r, (t, _, _) in zip(rows, pictures, strict=False)]
                n = len(pictures)
                both = sum(a and b for a, b in zip(z_ok, n_ok, strict=True))
                direct = [r["direct"] for r in rows[:-1]]
                worker = [r["worker"] for r in rows[:-1]]
                print(f"== {width}x{height}, {n} pictures (seed 7); "
                      f"BarcodeDetector in Chromium: {answer['native']}")  # fmt: skip
                print(f"  zbarimg        reads {sum(z_ok):>3}/{n}  {_ms(z_ms)} (process start too)")
                print(f"  ours, Node     reads {sum(n_ok):>3}/{n}  {_ms(n_ms)}")
                print(f"  ours, Chromium reads {sum(c_ok):>3}/{n}  {_ms(direct)}")
                print(f"  booth detect() reads {sum(w_ok):>3}/{n}  {_ms(worker)} (canvas + worker)")
                print(f"  both {both}, ours only {sum(n_ok) - both}, zbar only {sum(z_ok) - both}, "
                      f"neither {n - sum(n_ok) - sum(z_ok) + both}")  # fmt: skip
                last = rows[-1]
                print(
                    f"  a frame without a code: Node {blank_node:.0f} ms, Chromium "
                    f"{last['direct']:.0f} ms, booth detect() {last['worker']:.0f} ms"
                )
            browser.close()
    finally:
        decoder.close()
        httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    whole = sum(p.stat().st_size for p in BOOTH_FILES)
    parts = ("qrcanvas.js", "qrdecode.js", "qrworker.js")
    dec = sum((STATIC / "booth" / f).stat().st_size for f in parts)
    print(f"whole booth: {whole} bytes in {len(BOOTH_FILES)} files (uncompressed; < 200 KB)")
    print(f"  of which the decoder: {dec} bytes ({', '.join(parts)}; not on the first page)")
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
