"""Voter registry import on millions of synthetic voters: time and peak memory (bounded).

    PYTHONPATH=src python bench/registry_import/run.py [--voters 5000000] [--small 50000]
        [--dir bench/out/registry] [--keep]

Writes a synthetic national set of constituencies (27 regions, 216 constituencies, 4,320
territorial units, 30 of them excluded) and two registries (``--small`` and ``--voters`` rows,
all four categories), then runs ``viche event registry import --json`` on each in its own
process under ``/usr/bin/time -v`` (wall time, max RSS). The small run against the large one
shows the memory is bounded (the rows go to SQLite, never all into Python objects).

No peer imports this registry; the floor is ``sqlite3``'s own ``.import --csv`` of the same
file into one table, with no check at all, run on the same file in the same run: the ratio
is what the checks (fields, units, duplicates, changes) cost over a bare load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from viche.event.registry import write_registry_csv
from viche.event.synthetic import synthetic_constituencies, synthetic_voters


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run under /usr/bin/time -v: (wall seconds, max RSS in KiB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *argv], capture_output=True, text=True, env=env, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{argv[:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, int(rss.group(1)) if rss else -1, proc.stdout


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=5_000_000)
    parser.add_argument("--small", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, default=Path("bench/out/registry"))
    parser.add_argument("--keep", action="store_true", help="keep the CSV and databases")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cons = synthetic_constituencies(regions=27, per_region=8, units=20, excluded=30)
    cons_path = args.dir / "constituencies.json"
    cons_path.write_text(json.dumps(cons.to_json(), ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    results = []
    for n in (args.small, args.voters):
        src = args.dir / f"registry-{n}.csv"
        t0 = time.perf_counter()
        write_registry_csv(src, synthetic_voters(cons, n, seed=n))
        gen = time.perf_counter() - t0
        out = args.dir / f"registry-{n}.sqlite"
        out.unlink(missing_ok=True)
        load_before = _load()
        wall, rss, stdout = _timed(
            [sys.executable, "-m", "viche.cli.main", "event", "registry", "import", str(src),
             "--constituencies", str(cons_path), "--out", str(out), "--json"],
            env,
        )  # fmt: skip
        report = json.loads(stdout)
        assert report["voters"] == n, report
        floor_db = args.dir / f"floor-{n}.sqlite"
        floor_db.unlink(missing_ok=True)
        fwall, frss, _ = _timed(["sqlite3", str(floor_db), ".mode csv", f".import {src} registry"])
        line = {
            "voters": n,
            "csv_mb": round(src.stat().st_size / 2**20, 1),
            "generate_s": round(gen, 1),
            "import_s": round(wall, 1),
            "rows_per_s": round(n / wall),
            "import_max_rss_mb": round(rss / 1024, 1),
            "registry_mb": round(out.stat().st_size / 2**20, 1),
            "sqlite3_import_s": round(fwall, 1),
            "sqlite3_max_rss_mb": round(frss / 1024, 1),
            "ratio_vs_sqlite3": round(wall / fwall, 1),
            "load_before": load_before,
            "load_after": _load(),
        }
        results.append(line)
        print(json.dumps(line), flush=True)
        if not args.keep:
            for p in (src, out, floor_db):
                p.unlink(missing_ok=True)
    small, large = results
    print(
        f"peak RSS {small['import_max_rss_mb']} MB at {small['voters']:,} voters, "
        f"{large['import_max_rss_mb']} MB at {large['voters']:,} "
        f"(x{large['voters'] // max(1, small['voters'])} rows); import "
        f"{large['import_s']} s = {large['rows_per_s']:,} rows/s, "
        f"{large['ratio_vs_sqlite3']}x sqlite3's unchecked .import"
    )
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
