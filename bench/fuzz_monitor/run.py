"""The monitor's input-mutation campaign: every reader, mutated inputs, one contract.

    PYTHONPATH=src .venv/bin/python bench/fuzz_monitor/run.py --seed 1 --count 2000 \
        --budget 1200 [--shared ../shared] [--bomb-mib 1024] [--watch-every 10] [--cli-every 25]

For each input (drawn by tests/support/monitor_mutation.py from ``seed`` and its number,
so ``--seed S --only N`` replays input N): ``ingest`` into a store that already holds two
posts must add posts or raise a VicheError with a code and a where, within ``--seconds``,
without reading outside the export and without changing the two posts. Every
``--watch-every``-th input also lands in a watched inbox (the watch must log it and go on
to the next file) and every ``--cli-every``-th goes through ``viche monitor ingest``
between two good files (exit 0 or 2, no traceback). The process's address space is capped
(``--memory-mib`` above what it uses at the start): an input that needs more is a finding.
Prints, per reader, the inputs run and the outcomes, then one example of each finding.
Exit status 1 when there was a finding.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import itertools
import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.cli import run_cli  # noqa: E402
from support.monitor_mutation import (  # noqa: E402
    BASELINE,
    READERS,
    SECRET,
    Case,
    Outcome,
    check,
    check_watch,
    coordinated_seed,
    make_case,
)

BAD = {"crash", "hang", "leak", "store"}


def shared_seeds(shared: Path, rng: random.Random) -> dict[str, list[str]]:
    """A few real records (the bench only): a CSV seed of the IRA set's header and six of
    its rows, and rows of three sets as JSON lines."""
    import csv
    import io
    import json

    out: dict[str, list[str]] = {"csv": [], "jsonl": []}
    for name in ("ira_dev", "tg_ru_news_2024", "organic_dev"):
        source = shared / "data" / "influence" / name / "posts.csv.gz"
        if not source.is_file():
            continue
        with gzip.open(source, "rt", encoding="utf-8", newline="") as fh:
            rows = list(itertools.islice(csv.reader(fh), 400))
        header, picked = rows[0], rng.sample(rows[1:], min(6, len(rows) - 1))
        if not out["csv"]:
            for row in [header, *picked]:
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerow(row)
                out["csv"].append(buf.getvalue())
        out["jsonl"] += [
            json.dumps(dict(zip(header, row, strict=False)), ensure_ascii=False) for row in picked
        ]
    return out


def check_cli(case: Case, folder: Path, rng: random.Random) -> Outcome:
    """``viche monitor ingest good coordinated bad good --store``, then ``detect`` and
    ``report``: exit 0 or 2, no traceback, the first good file's posts kept, nothing that
    came from outside reaches the terminal as a control character."""
    path = case.write(folder / "in")
    good = folder / "good.csv"
    good.write_text(BASELINE, encoding="utf-8")
    hostile = folder / "coordinated.csv"
    hostile.write_text(coordinated_seed(rng), encoding="utf-8")
    store = str(folder / "store")
    runs = [
        run_cli("monitor", "ingest", str(good), str(hostile), str(path), str(good), "--store",
                store),
        run_cli("monitor", "detect", "--store", store, "--no-narratives"),
        run_cli("monitor", "report", "--store", store, "--out", str(folder / "report")),
    ]
    for step, run in zip(("ingest", "detect", "report"), runs, strict=True):
        if run.code not in (0, 2) or "Traceback" in run.stderr or "internal error" in run.stderr:
            last = run.stderr.strip().splitlines()[-1:]
            return Outcome("crash", f"cli {step} exit {run.code}: {last}")
        if "\x1b" in run.stdout + run.stderr:
            return Outcome("crash", f"cli {step}: a control character reached the terminal")
    con = sqlite3.connect(folder / "store" / "posts.sqlite")
    try:
        kept = [r[0] for r in con.execute("SELECT id FROM posts WHERE author = 'keeper'")]
    finally:
        con.close()
    if "2 posts added" not in runs[0].stdout or sorted(kept) != ["base1", "base2"]:
        return Outcome("store", f"cli: the first good file's posts: {runs[0].stdout[:200]}")
    return Outcome("posts" if runs[0].code == 0 else "error", f"cli exit {runs[0].code}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=700, help="inputs to run (all readers)")
    ap.add_argument("--budget", type=float, default=600.0, help="stop after so many seconds")
    ap.add_argument("--seconds", type=float, default=20.0, help="time bound of one input")
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--shared", type=Path, default=None, help="../shared: add real records")
    ap.add_argument("--bomb-mib", type=int, default=1024, help="gzip bomb size (0: none)")
    ap.add_argument("--memory-mib", type=int, default=1536, help="address space for inputs")
    ap.add_argument("--watch-every", type=int, default=10)
    ap.add_argument("--cli-every", type=int, default=25)
    ap.add_argument("--only", type=int, default=None, help="run input N only (replay)")
    args = ap.parse_args()
    readers = args.readers.split(",")

    status = Path("/proc/self/status").read_text().split("VmSize:")[1].split()[0]
    cap = int(status) * 1024 + (args.memory_mib << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    extra = shared_seeds(args.shared, random.Random(args.seed)) if args.shared else None

    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    examples: dict[tuple[str, str, str], str] = {}
    t0 = time.monotonic()
    numbers = [args.only] if args.only is not None else range(args.count)
    with tempfile.TemporaryDirectory(prefix="fuzz_monitor_") as tmp:
        secret = Path(tmp) / "secret.txt"
        secret.write_bytes(SECRET)
        for n in numbers:
            if time.monotonic() - t0 > args.budget:
                break
            rng = random.Random(f"{args.seed}:{n}")
            reader = readers[n % len(readers)]
            case = make_case(rng, reader, secret, extra_seeds=extra, bomb_size=args.bomb_mib << 20)
            runs = [("ingest", check)]
            if args.watch_every and n % args.watch_every == 0:
                runs.append(("watch", lambda c, f: check_watch(c, f, seconds=args.seconds)))
            if args.cli_every and n % args.cli_every == 0:
                runs.append(("cli", check))  # (check_cli, below)
            for mode, run in runs:
                with tempfile.TemporaryDirectory(dir=tmp) as d:
                    if mode == "ingest":
                        outcome = check(case, Path(d), secret, seconds=args.seconds)
                    elif mode == "cli":
                        outcome = check_cli(case, Path(d), rng)
                    else:
                        outcome = run(case, Path(d))
                key = reader if mode == "ingest" else f"{reader}/{mode}"
                counts[key]["inputs"] += 1
                counts[key][outcome.kind] += 1
                if outcome.kind in BAD:
                    group = (key, outcome.kind, outcome.detail.split(":")[0][:60])
                    examples.setdefault(
                        group, f"input {n} ({case.fmt}; {'; '.join(case.what)}): {outcome.detail}"
                    )
    elapsed = time.monotonic() - t0
    print(f"seed {args.seed}: {sum(c['inputs'] for c in counts.values())} runs in {elapsed:.0f} s")
    kinds = ["posts", "error", *sorted(BAD)]
    print(f"{'reader':20}{'inputs':>8}" + "".join(f"{k:>8}" for k in kinds))
    for key in sorted(counts):
        c = counts[key]
        print(f"{key:20}{c['inputs']:>8}" + "".join(f"{c[k]:>8}" for k in kinds))
    for (key, kind, _), text in sorted(examples.items()):
        print(f"FINDING {key} {kind}: {text[:400]}")
    return 1 if examples else 0


if __name__ == "__main__":
    sys.exit(main())
