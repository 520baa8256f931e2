"""Cost of making and checking one ballot: Viche versus belenios-tool.

Usage: .venv/bin/python bench/bench_protocol_ballot.py [--ballots N] [--group G]
(G is BELENIOS-2048, the default, or RFC-3526-2048)

On the reference election of the ``simple`` template (2 questions, 5 + 3 answers, blank on
question 2) of the chosen group:

* Viche ``make_ballot`` and ``check_ballot`` (one process, sequential), median per ballot;
* ``belenios-tool election generate-ballot`` (one process per ballot, as the tool is used);
* ``belenios-tool election verify`` on the reference archive minus the same command on the
  setup-only archive, divided by the number of ballots: the tool's cost per checked ballot.

Prints the medians and the ratios tool / Viche (> 1 means Viche is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from viche.protocol.ballot import ballot_bytes, check_ballot, make_ballot
from viche.protocol.election import Election, PublicCredentials, SetupData

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
REFS = {
    "BELENIOS-2048": SHARED / "peers" / "belenios" / "reference" / "simple-plain-BELENIOS",
    "RFC-3526-2048": SHARED / "peers" / "belenios" / "reference" / "simple-plain-RFC",
}
PLAN = [[0, 1, 0, 1, 0], [0, 1, 0, 0]]


def setup_of(bel: Path) -> tuple[Election, PublicCredentials]:
    data: dict[str, bytes] = {}
    with tarfile.open(bel, "r:") as tf:
        for m in tf:
            f = tf.extractfile(m)
            assert f is not None
            content = f.read()
            digest, _, kind = m.name.partition(".")
            if kind == "data.json":
                data[digest] = content
            elif kind == "event.json" and json.loads(content)["type"] == "Setup":
                setup = SetupData.from_bytes(data[json.loads(content)["payload"]])
                return Election.from_bytes(data[setup.election]), PublicCredentials.from_bytes(
                    data[setup.credentials]
                )
    raise SystemExit(f"no Setup event in {bel}")


def cpu_of(cmd: list[str], **kw: object) -> float:
    """User + system CPU seconds of a child process."""
    before = os.times()
    subprocess.run(cmd, check=True, capture_output=True, **kw)  # type: ignore[call-overload]
    after = os.times()
    return (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ballots", type=int, default=10)
    ap.add_argument("--group", default="BELENIOS-2048", choices=sorted(REFS))
    args = ap.parse_args()
    ref = REFS[args.group]
    gen_bel = next((ref / "gen").glob("*.bel"))
    election, creds = setup_of(gen_bel)
    private = [
        line.split()[1]
        for line in (ref / "secrets" / "private_creds.txt").read_text().splitlines()
        if line.strip()
    ]

    from viche.crypto.rng import SystemRandom

    rng = SystemRandom()
    make_t, check_t, raws = [], [], []
    for i in range(args.ballots):
        t0 = time.process_time()
        b = make_ballot(election, election.public_key, private[i % len(private)], PLAN, rng)
        make_t.append(time.process_time() - t0)
        raws.append(ballot_bytes(b))
    for raw in raws:
        t0 = time.process_time()
        check_ballot(election, raw, creds)
        check_t.append(time.process_time() - t0)
    viche_make, viche_check = statistics.median(make_t), statistics.median(check_t)
    print(f"group {args.group}, {args.ballots} ballots (simple template)")
    print(f"viche make_ballot   {viche_make * 1000:8.1f} ms cpu (median)")
    print(f"viche check_ballot  {viche_check * 1000:8.1f} ms cpu (median)")

    tool = shutil.which("belenios-tool")
    if not tool:
        print("belenios-tool absent: no ratios")
        return
    env = dict(os.environ, BELENIOS_USE_URANDOM="1", LC_ALL="C")
    work = Path(tempfile.mkdtemp(prefix="viche-bench-ballot-"))
    try:
        gen_dir = work / "gen"
        gen_dir.mkdir()
        shutil.copyfile(gen_bel, gen_dir / gen_bel.name)
        (work / "plan.json").write_text(json.dumps(PLAN))
        tool_gen = []
        for i in range(min(args.ballots, 10)):
            (work / "cred").write_text(private[i % len(private)] + "\n")
            tool_gen.append(
                cpu_of(
                    [
                        tool,
                        "election",
                        "generate-ballot",
                        f"--dir={gen_dir}",
                        f"--privcred={work / 'cred'}",
                        f"--ballot={work / 'plan.json'}",
                    ],
                    env=env,
                )
            )
        full_dir = work / "full"
        full_dir.mkdir()
        full_bel = next(ref.glob("*.bel"))
        shutil.copyfile(full_bel, full_dir / full_bel.name)
        n_ref = len(list((ref / "ballots").glob("*.json")))
        full = statistics.median(
            cpu_of([tool, "election", "verify", f"--dir={full_dir}"], env=env) for _ in range(3)
        )
        empty = statistics.median(
            cpu_of([tool, "election", "verify", f"--dir={gen_dir}"], env=env) for _ in range(3)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tool_make = statistics.median(tool_gen)
    # verify of the full archive also checks the tally, decryptions and result: an upper
    # bound of the per-ballot cost, stated as such.
    tool_check = (full - empty) / n_ref
    print(f"tool generate-ballot {tool_make * 1000:7.1f} ms cpu (median, one process each)")
    print(f"tool verify/ballot  {tool_check * 1000:8.1f} ms cpu (whole archive - setup, / {n_ref})")
    print(f"ratio make  tool/viche = {tool_make / viche_make:5.2f}")
    print(
        f"ratio check tool/viche = {tool_check / viche_check:5.2f}"
        " (the tool figure includes its tally checks)"
    )


if __name__ == "__main__":
    main()
