"""Counting methods, Viche vs ``belenios-tool method``, on random profiles, in one run.

For each random profile (2-7 answers, up to 60 ballots, 1-3 seats) both tools count the
same ballots by STV, Schulze and majority judgment; the run prints how many outcomes agree,
differ (normalised as in tests/interop/test_methods_interop.py: order inside a tie group,
order of invalid ballots), or stop belenios-tool, and the time each tool took.

    python bench/methods_vs_belenios/run.py [--profiles 500] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
from typing import Any

from viche.protocol import methods as m


def _tool(args: list[str], ballots: list[tuple[int, ...]]) -> tuple[dict[str, Any] | None, float]:
    t0 = time.perf_counter()
    done = subprocess.run(
        ["belenios-tool", "method", *args],
        input=json.dumps([list(b) for b in ballots]),
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    return (json.loads(done.stdout) if done.returncode == 0 else None), took


def _norm(r: dict[str, Any]) -> dict[str, Any]:
    out = dict(r)
    if "winners" in out and out["winners"] and isinstance(out["winners"][0], list):
        out["winners"] = [sorted(g) for g in out["winners"]]
    if "invalid" in out and "raw" in out:  # majority judgment lists them in reverse
        out["invalid"] = sorted(out["invalid"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profiles", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    kinds = ("agree", "same winners, tie log differs", "differ", "tool stopped")
    tally = {k: dict.fromkeys(kinds, 0) for k in ("stv", "schulze", "mj")}
    ours_s = theirs_s = 0.0
    for _ in range(a.profiles):
        n, seats, grades = rnd.randint(2, 7), rnd.randint(1, 3), rnd.randint(2, 5)
        ranks: list[tuple[int, ...]] = []
        for _ in range(rnd.randint(1, 60)):
            order = rnd.sample(range(n), n)
            r = [0] * n
            for i, ans in enumerate(order[: rnd.randint(1, n)]):
                r[ans] = i + 1
            ranks.append(tuple(r))
        graded = [tuple(rnd.randint(0, grades) for _ in range(n)) for _ in ranks]
        t0 = time.perf_counter()
        cases = [
            ("stv", ["stv", f"--nseats={seats}"], ranks, m.stv(ranks, seats).to_json()),
            (
                "schulze",
                ["schulze", f"--nchoices={n}", "--blank-allowed=false"],
                ranks,
                m.schulze(ranks, n, False).to_json(),
            ),
            (
                "mj",
                ["majority-judgment", f"--nchoices={n}", f"--ngrades={grades}",
                 "--blank-allowed=true"],
                graded,
                m.majority_judgment(graded, n, grades, True).to_json(),
            ),
        ]  # fmt: skip
        ours_s += time.perf_counter() - t0
        for name, args, ballots, mine in cases:
            theirs, took = _tool(args, ballots)
            theirs_s += took
            if theirs is None:
                tally[name]["tool stopped"] += 1
            elif _norm(theirs) == _norm(mine):
                tally[name]["agree"] += 1
            elif theirs.get("winners") == mine.get("winners"):
                # STV: exact fractions see a tie (TieWin/TieLose) that floating point breaks
                tally[name]["same winners, tie log differs"] += 1
            else:
                tally[name]["differ"] += 1
    for name, counts in tally.items():
        print(f"{name:8} " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    ratio = theirs_s / ours_s if ours_s else float("inf")
    print(f"time: belenios-tool {theirs_s:.1f} s (process per count), viche {ours_s:.2f} s "
          f"in-process; ratio {ratio:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
