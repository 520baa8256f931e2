"""The booth's JavaScript cryptography versus belenios-tool, on one ballot of the harness's
``large`` template (10 questions x 10 answers, blank on 3 of them).

Usage: .venv/bin/python bench/booth_crypto/run.py [--runs N] [--workers W] [--window B]
                                                  [--no-chromium]

In one run, for the same election (``reference/large-10x10-BELENIOS``), credential and
choices (voter 1 of its plan):

* Node: the time to build the fixed-base tables, then the ballot in one thread and in a
  pool of two worker threads (median of N);
* headless Chromium (Debian's ``chromium``): a page served on 127.0.0.1 (random port)
  with a pool of W browser Workers builds the tables, derives the credential (as the booth
  does when it is entered), then makes N ballots (median);
* ``belenios-tool election generate-ballot`` for the same ballot (median of N, wall and CPU);
* the ratios tool / JavaScript (> 1: the booth is faster) and the weight of the booth's
  crypto modules.

Every ballot timed is also checked: the last one of each environment passes Viche's
``check_ballot``. The issue's target: <= 500 ms per large ballot in Chromium after the
tables are built, with workers on both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from random import SystemRandom
from typing import Any

from viche.protocol.ballot import check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STATIC = REPO / "src/viche/web/static/booth"
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
REF = SHARED / "peers/belenios/reference/large-10x10-BELENIOS"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def reference() -> tuple[Path, bytes, PublicCredentials, str, str]:
    bel = next((REF / "gen").glob("*.bel"))
    record = read_archive(bel)
    cred = (REF / "secrets/private_creds.txt").read_text().splitlines()[0].split()[1]
    choices = (REF / "plan.tsv").read_text().splitlines()[0].split("\t")[1]
    creds = PublicCredentials.from_bytes(record.public_credentials)
    return bel, record.election, creds, cred, choices


def ms(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ms (median of {len(values)})"


def run_node(work: Path, runs: int, window: int | None) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(HERE / "node_bench.mjs"), str(work / "election.json"), str(work / "cred"),
         (work / "choices.json").read_text(), str(runs), str(window or "")],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def run_chromium(chromium: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Serve the booth modules and the bench page, run Chromium until the page posts."""
    result: dict[str, Any] = {}
    done = threading.Event()
    files = {
        "/": (HERE / "bench.html", "text/html"),
        "/bench-page.mjs": (HERE / "bench-page.mjs", "text/javascript"),
    }
    for path in STATIC.glob("*.js"):
        files[f"/booth/{path.name}"] = (path, "text/javascript")
    payload = json.dumps(data).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/data.json":
                body, kind = payload, "application/json"
            elif self.path in files:
                body, kind = files[self.path][0].read_bytes(), files[self.path][1]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            result.update(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()
            done.set()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    for _ in range(20):
        port = SystemRandom().randint(20000, 60000)
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    else:
        raise SystemExit("no free port for the bench page")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    profile = Path(tempfile.mkdtemp(prefix="viche-bench-chromium-"))
    browser = subprocess.Popen(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"http://127.0.0.1:{port}/"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not done.wait(timeout):
            raise SystemExit(f"Chromium did not report within {timeout:.0f} s")
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    if "error" in result:
        raise SystemExit(f"Chromium: {result['error']}")
    return result


def run_tool(tool: str, bel: Path, work: Path, runs: int) -> tuple[list[float], list[float]]:
    gen = work / "gen"
    gen.mkdir()
    shutil.copyfile(bel, gen / bel.name)
    env = dict(os.environ, BELENIOS_USE_URANDOM="1", LC_ALL="C")
    wall, cpu = [], []
    for _ in range(runs):
        before = os.times()
        t0 = time.perf_counter()
        subprocess.run(
            [tool, "election", "generate-ballot", f"--dir={gen}", f"--privcred={work / 'cred'}",
             f"--ballot={work / 'choices.json'}"],
            check=True,
            capture_output=True,
            env=env,
        )  # fmt: skip
        wall.append(time.perf_counter() - t0)
        after = os.times()
        user = after.children_user - before.children_user
        cpu.append(user + after.children_system - before.children_system)
    return [w * 1000 for w in wall], [c * 1000 for c in cpu]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--window", type=int, default=None, help="table window bits (default 8)")
    ap.add_argument("--no-chromium", action="store_true")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()

    bel, election_raw, creds, cred, choices = reference()
    election = Election.from_bytes(election_raw)
    weight = sum(p.stat().st_size for p in STATIC.glob("*.js"))
    print(f"large template ({len(election.questions)} questions), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"booth crypto modules: {weight / 1024:.1f} KiB ({len(list(STATIC.glob('*.js')))} files)")
    whole = weight + sum(
        (STATIC.parent / f).stat().st_size
        for f in ("booth/index.html", "common/i18n.js", "common/qr.js", "common/style.css")
    )
    print(f"whole booth (modules, page, catalogue, QR encoder, style): {whole / 1024:.1f} KiB")
    with tempfile.TemporaryDirectory(prefix="viche-bench-booth-") as tmp:
        work = Path(tmp)
        (work / "election.json").write_bytes(election_raw)
        (work / "cred").write_text(cred + "\n")
        (work / "choices.json").write_text(choices)

        node = run_node(work, args.runs, args.window)
        check_ballot(election, node["ballot"].encode(), creds)
        print(f"node     tables (1 thread)      {node['one']['tables']:8.1f} ms "
              f"({node['one']['tablesCpu']:.1f} ms cpu)")  # fmt: skip
        print(f"node     ballot, 1 thread       {ms(node['one']['ballots'])}, "
              f"cpu {statistics.median(node['one']['cpu']):.1f} ms")  # fmt: skip
        print(f"node     tables, 2 workers      {node['pool']['tables']:8.1f} ms")
        print(f"node     ballot, 2 workers      {ms(node['pool']['ballots'])}")
        js_best = statistics.median(node["pool"]["ballots"])
        js_where = "node pool"

        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if args.no_chromium or not chromium:
            print("chromium: not run" + ("" if chromium else " (absent: apt-get install chromium)"))
        else:
            data = {
                "election": election_raw.decode(),
                "privcred": cred,
                "choices": json.loads(choices),
                "runs": args.runs,
                "workers": args.workers,
                "window": args.window,
            }
            page = run_chromium(chromium, data, args.timeout)
            check_ballot(election, page["ballot"].encode(), creds)
            print(f"chromium tables, {args.workers} workers      {page['tables']:8.1f} ms "
                  f"(each worker: {', '.join(f'{t:.0f}' for t in page['tablesWorkers'])} ms; "
                  f"{page['cores']} cores)")  # fmt: skip
            print(f"chromium credential derivation  {page['credential']:8.1f} ms "
                  "(PBKDF2 and g^s, done by the booth when the credential is entered)")  # fmt: skip
            print(f"chromium ballot, {args.workers} workers      {ms(page['ballots'])}")
            js_best = statistics.median(page["ballots"])
            js_where = "chromium"

        tool = shutil.which("belenios-tool")
        if not tool:
            print("belenios-tool absent: no ratio")
            return
        wall, cpu = run_tool(tool, bel, work, args.runs)
        tool_cpu = statistics.median(cpu)
        print(f"belenios-tool generate-ballot   {ms(wall)} wall, cpu {tool_cpu:.1f} ms")
        ratio = statistics.median(wall) / js_best
        print(f"ratio tool / {js_where} = {ratio:5.2f} (wall; > 1: the booth is faster)")
        cpu_ratio = tool_cpu / statistics.median(node["one"]["cpu"])
        print(f"ratio tool / node 1 thread = {cpu_ratio:5.2f} (cpu time, unaffected by other load)")


if __name__ == "__main__":
    main()
