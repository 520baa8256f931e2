"""Time ``belenios-tool election verify`` and ``viche verify`` on the same archive.

Usage (from the repository root)::

    .venv/bin/python bench/verify_vs_belenios/run.py [--archive DIR] [--jobs N] [--repeat K]

``--archive`` defaults to ``bench/out/simple-2000`` (git-ignored); when it is missing it is
built with the belenios harness (2,000 ballots, BELENIOS-2048, 2 Single trustees, the
``simple`` template; about 5-8 minutes of CPU)::

    JOBS=2 APPEND=py QUIET=1 ../shared/peers/belenios/make_election.sh \
        BELENIOS-2048 2000 2 0 bench/out/simple-2000 simple

Both verifiers run in this one process, one after the other, as child processes; wall time
and CPU time (user + system of the child and its workers, from ``getrusage``) are printed
with the ratios. The machine is shared: compare CPU times as well as wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
HARNESS = SHARED / "peers" / "belenios" / "make_election.sh"
DEFAULT_ARCHIVE = REPO / "bench" / "out" / "simple-2000"


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, int]:
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    return wall, children_cpu() - cpu0, proc.stdout + proc.stderr, proc.returncode


def build(archive: Path, ballots: int) -> None:
    print(f"building {archive} with {ballots} ballots (several minutes)...", flush=True)
    env = dict(os.environ, JOBS="2", APPEND="py", QUIET="1")
    subprocess.run(
        [str(HARNESS), "BELENIOS-2048", str(ballots), "2", "0", str(archive), "simple"],
        env=env,
        check=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    ap.add_argument("--ballots", type=int, default=2000, help="when building the archive")
    ap.add_argument("--jobs", type=int, default=None, help="viche worker processes")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each verifier (best kept)")
    args = ap.parse_args()

    archive: Path = args.archive
    if not list(archive.glob("*.bel")):
        build(archive, args.ballots)
    bels = list(archive.glob("*.bel"))
    if len(bels) != 1:
        print(f"expected one .bel in {archive}", file=sys.stderr)
        return 2
    tool = os.environ.get("BELENIOS_TOOL") or shutil.which("belenios-tool")
    if tool is None:
        print("belenios-tool not found", file=sys.stderr)
        return 2
    viche = [sys.executable, "-m", "viche.cli.main", "verify", str(archive), "--json"]
    if args.jobs:
        viche += ["--jobs", str(args.jobs)]
    tool_env = dict(os.environ, LC_ALL="C")

    best: dict[str, tuple[float, float]] = {}
    report: dict[str, object] = {}
    for _ in range(args.repeat):
        wall, cpu, out, rc = timed([tool, "election", "verify", "--dir", str(archive)], tool_env)
        if rc != 0:
            print(out, file=sys.stderr)
            print("belenios-tool rejected the archive", file=sys.stderr)
            return 1
        if "belenios" not in best or wall < best["belenios"][0]:
            best["belenios"] = (wall, cpu)
        wall, cpu, out, rc = timed(viche)
        if rc != 0:
            print(out, file=sys.stderr)
            print("viche verify rejected the archive", file=sys.stderr)
            return 1
        report = json.loads(out)
        if "viche" not in best or wall < best["viche"][0]:
            best["viche"] = (wall, cpu)

    expected = json.loads((archive / "result.json").read_text())["result"]
    same = report.get("result") == expected
    counts = report.get("counts", {})
    assert isinstance(counts, dict)
    bw, bc = best["belenios"]
    vw, vc = best["viche"]
    print(f"archive: {bels[0]} ({counts.get('ballots')} ballots)")
    print(f"viche jobs: {report.get('jobs')}   cores: {os.cpu_count()}   "
          f"load average: {os.getloadavg()[0]:.2f}")
    print(f"{'verifier':<16}{'wall s':>10}{'cpu s':>10}")
    print(f"{'belenios-tool':<16}{bw:>10.2f}{bc:>10.2f}")
    print(f"{'viche':<16}{vw:>10.2f}{vc:>10.2f}")
    print(f"speed-up (belenios / viche): wall {bw / vw:.2f}x   cpu {bc / vc:.2f}x")
    print(f"same result as belenios-tool's result.json: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
