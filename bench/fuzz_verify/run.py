"""The long archive-mutation campaign: ``viche verify`` on N well-formed, re-hashed,
re-chained edits of reference archives must never exit with anything but 0, 1 or 2 and
never accept a changed result (the bounded version runs in the test suite:
tests/property/test_verify_mutations.py; the edits are tests/support/archive_mutation.py).

    .venv/bin/python bench/fuzz_verify/run.py 2000
    .venv/bin/python bench/fuzz_verify/run.py 500 \
        --archive ../shared/peers/belenios/reference/nh-mixnet-RFC

Without ``--archive`` it builds a small election with Viche's factories (2 voters, a
Single trustee). Prints the exit codes seen, the examples per second, and the first
failing edit (shrunk by Hypothesis) if any; exit status 1 then.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support: the edit strategies, run_cli

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from support.archive_mutation import mutate  # noqa: E402
from support.cli import run_cli  # noqa: E402
from viche.testing.archive_edit import Members, rebuild, split  # noqa: E402


def _archive(path: Path) -> Path:
    return path if path.is_file() else next(path.glob("*.bel"))


def _result_of(members: Members) -> object:
    content = next((c for _, c in members if c.startswith(b'{"result":')), None)
    return None if content is None else json.loads(content)["result"]


def fuzz(bel: Path, examples: int, derandomize: bool, work: Path) -> bool:
    """Run the campaign on one archive; print the exit codes seen; False on a failure."""
    members, mtime = split(bel)
    original = _result_of(members)
    codes: collections.Counter[int] = collections.Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(data=st.data())
    def campaign(data: st.DataObject) -> None:
        changed, what = mutate(data, members)
        with tempfile.TemporaryDirectory(dir=work) as d:
            (Path(d) / "x.bel").write_bytes(rebuild(changed, mtime))
            run = run_cli("verify", d, "--jobs", "1", "--json")
        codes[run.code] += 1
        assert run.code in {0, 1, 2}, f"{what}: exit {run.code}\n{run.stderr[-2000:]}"
        if run.code == 0:
            report = json.loads(run.stdout)
            assert report["result"] in (None, original), f"{what}: result accepted"

    t0 = time.perf_counter()
    ok = True
    try:
        campaign()
    except AssertionError as exc:
        ok = False
        print(f"{bel.name}: FAILED {exc}")
    dt = time.perf_counter() - t0
    total = sum(codes.values())
    print(
        f"{bel.parent.name}/{bel.name}: {total} runs in {dt:.1f} s "
        f"({total / dt:.1f}/s); exit codes {dict(sorted(codes.items()))}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", type=int, help="number of mutated archives per archive")
    parser.add_argument("--archive", type=Path, action="append", default=[])
    parser.add_argument("--seed", type=int, default=None, help="reproducible run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="viche-fuzz-"))
    archives = [_archive(a) for a in args.archive]
    if not archives:
        from viche.testing.factories import make_election, plan_for

        run, _ = make_election(work / "e", plan_for(voters=2))
        archives = [run.archive]

    failed = False
    for bel in archives:
        failed |= not fuzz(bel, args.examples, args.seed is not None, work)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
