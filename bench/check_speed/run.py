"""The check of one ballot (every check of add-ballot) with each exponentiation engine, beside
belenios-tool verifying the same ballots, in one run.

Usage (from the repository root)::

    /work/main/.venv/bin/python bench/check_speed/run.py [--ballots 200] [--repeat 3]

Two archives of the harness's ``simple`` template (BELENIOS-2048, 2 questions, 9 ciphertexts
per ballot, 1 Single trustee) are built on first use with the belenios harness and kept in
``bench/out/check-speed-{10,N}`` (git-ignored; about a minute)::

    JOBS=2 APPEND=py QUIET=1 ../shared/peers/belenios/make_election.sh \\
        BELENIOS-2048 N 1 0 bench/out/check-speed-N simple

Printed, CPU time per ballot (``time.process_time`` in this process; best of ``--repeat``):

* ``check_ballot_fast`` (what ``viche serve`` and ``viche verify`` run on every ballot) on
  the N ballots with the engines of :mod:`viche.crypto.fastexp`: ``c`` (the C extension,
  AVX-512 IFMA kernel where the CPU has it), ``mpn`` (the C extension on GMP's mpn kernel)
  and ``pure`` (gmpy2), after one warm-up pass (tables built); every verdict must be the same;
* ``belenios-tool election verify`` (CPU of the child): (CPU on the N-ballot archive - CPU
  on the 10-ballot archive) / (N - 10), i.e. its cost per ballot without the setup;
* ``viche verify --json --jobs 1`` the same way, under each engine (``VICHE_FASTEXP``).

The machine is shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from viche.crypto import fastexp
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify.prefill import check_ballot_fast

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
HARNESS = SHARED / "peers" / "belenios" / "make_election.sh"
OUT = REPO / "bench" / "out"
SMALL = 10


def _archive(n: int) -> Path:
    path = OUT / f"check-speed-{n}"
    if not list(path.glob("*.bel")):
        print(f"building {path} ({n} ballots) with the belenios harness...", flush=True)
        env = dict(os.environ, JOBS="2", APPEND="py", QUIET="1")
        subprocess.run(
            [str(HARNESS), "BELENIOS-2048", str(n), "1", "0", str(path), "simple"],
            env=env,
            check=True,
        )
    return path


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _child_cpu(argv: list[str], env: dict[str, str]) -> float:
    c0 = _children_cpu()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        raise SystemExit(f"{argv[0]} {' '.join(argv[1:4])} failed")
    return _children_cpu() - c0


def _per_ballot(argv_of: dict[int, list[str]], n: int, env: dict[str, str], repeat: int) -> float:
    """CPU ms per ballot: (best CPU on n ballots - best CPU on SMALL) / (n - SMALL)."""
    best = {k: min(_child_cpu(argv, env) for _ in range(repeat)) for k, argv in argv_of.items()}
    return (best[n] - best[SMALL]) * 1000 / (n - SMALL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ballots", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tool = os.environ.get("BELENIOS_TOOL") or "belenios-tool"
    n: int = args.ballots
    archives = {SMALL: _archive(SMALL), n: _archive(n)}
    print(f"load average at the start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(f"engine by default: {fastexp.engine()}")

    rec = read_archive(archives[n])
    election = Election.from_bytes(rec.election)
    creds = PublicCredentials.from_bytes(rec.public_credentials)
    raws = [entry.raw for entry in rec.ballots]
    engines = (["c", "mpn"] if fastexp._C_BUILT is not None else []) + ["pure"]
    check_ms: dict[str, float] = {}
    verdicts: dict[str, list[tuple[str, str]]] = {}
    for name in engines:
        fastexp.select_engine(name)
        for raw in raws[:40]:  # warm-up: the tables of g and y are built
            check_ballot_fast(election, raw, creds)
        best = float("inf")
        for _ in range(args.repeat):
            c0 = time.process_time()
            out = [check_ballot_fast(election, raw, creds) for raw in raws]
            best = min(best, time.process_time() - c0)
        check_ms[name] = best * 1000 / len(raws)
        verdicts[name] = [(c.tracker, c.credential) for c in out]
    fastexp.select_engine("c" if fastexp._C_BUILT is not None else "pure")
    same = all(v == verdicts["pure"] for v in verdicts.values())

    tool_env = dict(os.environ, LC_ALL="C")
    bt_ms = _per_ballot(
        {k: [tool, "election", "verify", "--dir", str(a)] for k, a in archives.items()},
        n,
        tool_env,
        args.repeat,
    )
    verify_ms: dict[str, float] = {}
    for name in engines:
        env = dict(os.environ, VICHE_FASTEXP="" if name == "c" else name)
        argv = [sys.executable, "-m", "viche.cli.main", "verify", "--json", "--jobs", "1"]
        verify_ms[name] = _per_ballot(
            {k: [*argv, str(a)] for k, a in archives.items()}, n, env, args.repeat
        )
    report = json.loads(
        subprocess.run([*argv, str(archives[n])], capture_output=True, text=True, check=True).stdout
    )
    expected = json.loads((archives[n] / "result.json").read_text())["result"]

    print(f"\narchive: {archives[n]} ({len(raws)} ballots, simple template, BELENIOS-2048)")
    print(f"same verdicts under every engine: {same}; viche verify result = belenios-tool's: "
          f"{report.get('result') == expected}")  # fmt: skip
    print(f"\n{'CPU ms per ballot':<42}{'c':>8}{'mpn':>8}{'pure':>8}")
    row = "".join(f"{check_ms.get(e, float('nan')):>8.2f}" for e in ("c", "mpn", "pure"))
    print(f"{'check_ballot_fast (this process)':<42}{row}")
    row = "".join(f"{verify_ms.get(e, float('nan')):>8.2f}" for e in ("c", "mpn", "pure"))
    print(f"{'viche verify --jobs 1 (per ballot)':<42}{row}")
    print(f"{'belenios-tool election verify (per ballot)':<42}{bt_ms:>8.2f}")
    if "c" in check_ms:
        print(f"\ncheck: pure / c = {check_ms['pure'] / check_ms['c']:.2f}x, "
              f"pure / mpn = {check_ms['pure'] / check_ms['mpn']:.2f}x")  # fmt: skip
        print(f"verify: pure / c = {verify_ms['pure'] / verify_ms['c']:.2f}x")
    for e, ms in check_ms.items():
        print(f"belenios-tool / viche check ({e}): {bt_ms / ms:.2f}x;  "
              f"/ viche verify ({e}): {bt_ms / verify_ms[e]:.2f}x")  # fmt: skip
    print(f"ballots/s of one core on the check alone (c): "
          f"{1000 / check_ms[engines[0]]:.0f}")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0 if same and report.get("result") == expected else 1


if __name__ == "__main__":
    sys.exit(main())
