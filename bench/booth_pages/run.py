"""The booth's page weight and time to its first interactive page, on loopback.

Starts ``viche serve --demo`` (temporary data folder, random 127.0.0.1 port), opens the
booth in Debian's headless Chromium driven by Playwright (a fresh context each run: empty
cache) and prints the bytes of every response the booth loads (the page, styles, scripts,
the crypto worker) and the time from navigation to the first interactive step (the
election chosen by link, the login form shown and focused), median of ``--runs``; then the
weight of the whole booth (every file it may load: its modules, the worker's, the QR
encoder, the catalogue, the style), which the issue wants under 200 KB.

    python bench/booth_pages/run.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
STATIC = SRC / "viche/web/static"
#: every file the booth may load, whatever the voter does
BOOTH_FILES = [*sorted((STATIC / "booth").glob("*.js")), STATIC / "booth/index.html",
               STATIC / "common/i18n.js", STATIC / "common/qr.js",
               STATIC / "common/style.css", STATIC / "favicon.svg"]  # fmt: skip
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("chromium is absent (apt-get install chromium)")
    data = Path(tempfile.mkdtemp(prefix="viche-bench-pages-"))
    port = random.randint(20000, 60000)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "viche.cli.main", "serve", "--demo", "--data", str(data),
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        times: list[float] = []
        weight: dict[str, int] = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
            for _ in range(args.runs):
                ctx = browser.new_context(viewport={"width": 360, "height": 740})
                page = ctx.new_page()
                sizes: dict[str, int] = {}
                page.on(
                    "response",
                    lambda r, sizes=sizes: (
                        sizes.__setitem__(r.url, len(r.body()))
                        if r.url.startswith(base) and r.ok and "/api/" not in r.url
                        else None
                    ),
                )
                start = time.perf_counter()
                page.goto(f"{base}/booth/#{uuid}")
                page.wait_for_selector("#view[data-step=login] #login")
                times.append((time.perf_counter() - start) * 1000)
                page.wait_for_load_state("networkidle")
                weight = dict(sizes)
                ctx.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    for url, size in sorted(weight.items()):
        print(f"{size:>8} B  {url.removeprefix(base)}")
    print(f"first page: {sum(weight.values())} bytes in {len(weight)} files (uncompressed)")
    whole = sum(p.stat().st_size for p in BOOTH_FILES)
    print(f"whole booth: {whole} bytes in {len(BOOTH_FILES)} files (uncompressed; < 200 KB wanted)")
    print(
        f"first interactive page (login form of the election by link), {args.runs} runs: "
        f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms "
        f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
