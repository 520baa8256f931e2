"""The part of the check of one ballot that is Python (outside the C engine's calls).

Usage (from the repository root; the archive is the one ``run.py`` builds)::

    PYTHONPATH=<tree>/src /work/main/.venv/bin/python bench/check_speed/python_part.py \\
        [--archive bench/out/check-speed-200] [--repeat 5]

:func:`viche.verify.prefill.check_ballot_fast` on every ballot of the archive, after a
warm-up (the tables of g and y built), best of ``--repeat`` passes: CPU time per ballot
(``time.process_time``) of the whole check, and of the check minus the CPU spent inside
the calls to the C engine (``pow_many_batch`` of the variable bases and ``pow_fixed_many``
of g and y before pyck7, ``pow_products`` since, which also forms the proofs'
commitments), i.e. parsing, planning and the checks once the powers are known: the part
that holds the GIL in the server. Run it with ``PYTHONPATH`` pointing at two trees one
after the other to compare them (the machine is shared: alternate, and print the load).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify import prefill
from viche.verify.prefill import check_ballot_fast

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, default=REPO / "bench" / "out" / "check-speed-200")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rec = read_archive(args.archive)
    election = Election.from_bytes(rec.election)
    creds = PublicCredentials.from_bytes(rec.public_credentials)
    raws = [entry.raw for entry in rec.ballots]
    for raw in raws[:40]:  # warm-up: the tables of g and y are built
        check_ballot_fast(election, raw, creds)

    in_c = [0.0]

    def timed(call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return call(*a, **k)
            finally:
                in_c[0] += time.process_time() - c0

        return run

    # the engine's calls of the planner: pow_many_batch and pow_fixed_many (main before
    # pyck7), pow_products (since: its wrapper's few list comprehensions counted in C)
    for name in ("pow_many_batch", "pow_fixed_many", "pow_products"):
        if hasattr(prefill, name):
            setattr(prefill, name, timed(getattr(prefill, name)))
    whole = python = float("inf")
    for _ in range(args.repeat):
        in_c[0] = 0.0
        c0 = time.process_time()
        for raw in raws:
            check_ballot_fast(election, raw, creds)
        spent = time.process_time() - c0
        whole, python = min(whole, spent), min(python, spent - in_c[0])
    n = len(raws)
    print(
        f"{os.environ.get('PYTHONPATH', '')}: check {whole * 1e6 / n:7.1f} us CPU per ballot, "
        f"Python part {python * 1e6 / n:7.1f} us ({n} ballots, best of {args.repeat}, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
