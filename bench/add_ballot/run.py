"""``add-ballot`` on archives of 100 and 10,000 ballots, BEFORE and AFTER the election store.

Usage: /work/main/.venv/bin/python bench/add_ballot/run.py [--ballots 100,10000] [--trials 5]
                                                           [--before 6b2c092]

* BEFORE is the code of commit 6b2c092 (checked out in a temporary ``git worktree``, run with
  its own PYTHONPATH): every ``add-ballot`` reads and checks the whole archive, then scans
  every earlier ballot for replays and re-votes.
* AFTER is this tree: the archive's ballot index (``uuid.bel.index``) answers the replay and
  re-vote questions, and only the setup and the last event are read.

Measured, for each archive size (median of ``--trials`` ballots, each a re-vote):

* ``cli``: ``viche archive add-ballot BALLOT --dir DIR`` as a user runs it (a new process:
  interpreter start, imports, setup parsing, checks, append, fsync). Each trial runs on a
  fresh copy of the archive (and, AFTER, of its index, built once beforehand; the one-time
  build is printed too);
* ``service``: the in-process call on one copy (``timer.py``): BEFORE
  ``service.archive.add_ballot(dir, raw)``, AFTER ``service.cast.cast_ballot(state, raw)`` on
  a store opened once.

Every copy is fsynced before it is measured (writing the copy is not the command's cost).
The machine's load average is printed: figures taken on a busy machine are noisy.

The archive is a real election (one yes/no question, 20 voters re-voting, seeded randomness)
whose ballots are generated once in parallel and appended without re-checking; it is cached
in ``bench/.cache/add_ballot/`` (not in git). The archive of 100 ballots is the first 100 of
the big one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "bench" / ".cache" / "add_ballot"
VOTERS = 20
TEMPLATE = {
    "description": "add-ballot benchmark",
    "name": "bench",
    "questions": [{"answers": ["Yes", "No"], "min": 1, "max": 1, "question": "Yes or no?"}],
}


# ---------------------------------------------------------------------- the election


def _make_ballots(args: tuple[str, list[tuple[int, str]]]) -> list[bytes]:
    """Worker: ballots for (voter, seed) pairs of the cached election."""
    from viche.crypto.rng import SeededRandom
    from viche.service import ballot as ballots
    from viche.service.archive import open_record

    archive, jobs = args
    creds = json.loads((CACHE / "private.json").read_text())
    out = []
    with open_record(archive) as state:
        election = state.election
    for voter, seed in jobs:
        made = ballots.generate_ballot(
            election, None, creds[voter], [[0, 1] if voter % 2 else [1, 0]], SeededRandom(seed)
        )
        out.append(made.raw)
    return out


def build(n: int, extra: int) -> tuple[Path, list[Path]]:
    """The cached election: an archive of ``n`` ballots and ``extra`` ballot files."""
    from viche.protocol.election import ElectionTemplate
    from viche.record import ArchiveWriter, EventType, read_archive
    from viche.service.election_run import Stop
    from viche.testing.factories import make_election, plan_for

    stamp = CACHE / f"ready-{n}-{extra}"
    archive = CACHE / f"big-{n}" / "election.bel"
    extras = [CACHE / f"extra-{i}.ballot" for i in range(extra)]
    if stamp.exists():
        return archive, extras
    shutil.rmtree(CACHE, ignore_errors=True)
    CACHE.mkdir(parents=True)
    t = time.perf_counter()
    plan = plan_for(
        voters=VOTERS,
        votes=[],
        template=ElectionTemplate.from_json(TEMPLATE),
        stop=Stop.SETUP,
        seed="bench-add-ballot",
    )
    run, _ = make_election(CACHE / "election", plan, seed="bench-add-ballot")
    (CACHE / "private.json").write_text(json.dumps(run.private_credentials))
    jobs = [(i % VOTERS, f"ballot-{i}") for i in range(n + extra)]
    workers = max(1, min(2, os.cpu_count() or 1))
    chunks = [(str(run.archive), jobs[k :: workers * 8]) for k in range(workers * 8)]
    print(f"generating {n + extra} ballots with {workers} process(es)...", file=sys.stderr)
    with ProcessPoolExecutor(workers) as pool:
        made = list(pool.map(_make_ballots, chunks))
    raws: list[bytes] = [b""] * len(jobs)
    for k, chunk in enumerate(made):
        for j, raw in enumerate(chunk):
            raws[k + j * workers * 8] = raw
    archive.parent.mkdir()
    shutil.copy(run.archive, archive)
    writer = ArchiveWriter.open(archive)
    for i in range(0, n, 1000):
        writer.append_many([(EventType.BALLOT, [r]) for r in raws[i : min(n, i + 1000)]])
    for path, raw in zip(extras, raws[n:], strict=True):
        path.write_bytes(raw + b"\n")
    assert len(read_archive(archive).ballots) == n
    stamp.write_text("")
    print(f"  built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return archive, extras


def prefix(big: Path, n: int, target: Path) -> Path:
    """The first ``n`` ballots of ``big`` (cut at an event boundary)."""
    from viche.record import ArchiveStream

    target.mkdir(parents=True, exist_ok=True)
    out = target / "election.bel"
    with ArchiveStream(big) as stream:
        for ev in stream:
            if ev.height == n:
                end = ev.offset + 512 + len(ev.raw)
                end += (-len(ev.raw)) % 512
                break
        else:
            raise SystemExit(f"the big archive has fewer than {n} ballots")
    with big.open("rb") as f:
        out.write_bytes(f.read(end))
    return out


# ---------------------------------------------------------------------- timing


def settled_copy(source: Path, target: Path) -> Path:
    """A copy of ``source`` whose bytes are on disk (fsynced), so that the first fsync of
    the measured command does not pay for writing the copy."""
    shutil.copytree(source, target)
    for path in target.iterdir():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def env_for(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    return env


def time_cli(src: Path, archive_dir: Path, ballots: list[Path], work: Path) -> list[float]:
    """``viche archive add-ballot`` once per ballot, each on a fresh copy of ``archive_dir``."""
    times = []
    for i, ballot in enumerate(ballots):
        copy = settled_copy(archive_dir, work / f"cli-{i}")
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "viche.cli.main", "archive", "add-ballot", str(ballot),
             "--dir", str(copy)],
            env=env_for(src), capture_output=True, text=True, check=False,
        )  # fmt: skip
        times.append(time.perf_counter() - t)
        if done.returncode != 0 or "accepted" not in done.stdout:
            raise SystemExit(f"add-ballot failed ({src}): {done.stdout}{done.stderr}")
        shutil.rmtree(copy)
    return times


def time_service(
    src: Path, mode: str, archive_dir: Path, ballots: list[Path], work: Path
) -> dict[str, float]:
    copy = settled_copy(archive_dir, work / f"svc-{mode}")
    done = subprocess.run(
        [sys.executable, str(HERE / "timer.py"), mode, str(copy), *map(str, ballots)],
        env=env_for(src), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"timer failed ({mode}): {done.stderr}")
    shutil.rmtree(copy)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def build_index(src: Path, archive_dir: Path) -> float:
    """AFTER only: open the store once (builds ``uuid.bel.index``); returns the time."""
    code = (
        "import sys,time;from viche.record import ArchiveStore;t=time.perf_counter();"
        "ArchiveStore.open(sys.argv[1]).close();print(time.perf_counter()-t)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(archive_dir)],
        env=env_for(src), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", default="100,10000", help="archive sizes, comma-separated")
    parser.add_argument("--trials", type=int, default=5, help="ballots added per measurement")
    parser.add_argument("--before", default="6b2c092", help="the commit measured as BEFORE")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.ballots.split(","))
    sys.path.insert(0, str(REPO / "src"))
    big, extras = build(max(sizes), args.trials)
    ballots = extras[: args.trials]

    with tempfile.TemporaryDirectory(prefix="viche-bench-add-") as tmp:
        work = Path(tmp)
        before = work / "before"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), args.before],
            check=True, capture_output=True,
        )  # fmt: skip
        try:
            rows = []
            for n in sizes:
                archive_dir = big.parent
                if n != max(sizes):
                    archive_dir = prefix(big, n, work / f"n{n}").parent
                clean = work / f"clean-{n}"
                shutil.copytree(archive_dir, clean, ignore=shutil.ignore_patterns("*.index*"))
                for label, src in (("before", before / "src"), ("after", REPO / "src")):
                    index_build = build_index(src, clean) if label == "after" else 0.0
                    cli = time_cli(src, clean, ballots, work)
                    svc = time_service(src, label, clean, ballots, work)
                    rows.append((n, label, statistics.median(cli), svc["median"], index_build))
                    # the index belongs to AFTER only
                    for p in clean.glob("*.index*"):
                        p.unlink()
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
                check=False, capture_output=True,
            )  # fmt: skip

    print(
        f"add-ballot, median of {args.trials} ballots (each a re-vote), {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = ("ballots", "version", "cli (s)", "service (ms)", "index build (s)")
    print(f"{header[0]:>8} {header[1]:>7} {header[2]:>9} {header[3]:>13} {header[4]:>16}")
    for n, label, cli_t, svc_t, idx in rows:
        build_text = f"{idx:16.2f}" if label == "after" else f"{'-':>16}"
        print(f"{n:>8} {label:>7} {cli_t:9.3f} {svc_t * 1000:13.1f} {build_text}")
    lo, hi = sizes[0], sizes[-1]
    for label in ("before", "after"):
        a = next(r for r in rows if r[0] == lo and r[1] == label)
        b = next(r for r in rows if r[0] == hi and r[1] == label)
        print(
            f"{label}: {hi} / {lo} ballots = x{b[2] / a[2]:.2f} (cli), x{b[3] / a[3]:.2f} (service)"
        )


if __name__ == "__main__":
    main()
