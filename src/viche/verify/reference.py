"""The reference verifier: the whole record in memory, every check in the plainest order.

:func:`verify_record_in_memory` reads the archive with :func:`~viche.record.read_archive`
and runs the checks of :data:`~viche.verify.checks.CHECKS` one after the other. Its memory
grows with the archive; :func:`viche.verify.streaming.verify_record` gives the same report
in bounded memory and is tested against this one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    Location,
    MissingFileError,
    ReplayedBallotError,
    StorageError,
    VicheError,
)
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.election import Election
from viche.protocol.tally import (
    EncryptedTally,
    compute_encrypted_tally,
    last_ballots,
    sized_tally,
)
from viche.record import Record, read_archive
from viche.verify.ballots import BallotOutcome, check_ballots, default_jobs
from viche.verify.checks import Progress, Run, ballot_failure, unreadable_report
from viche.verify.report import VerificationReport
from viche.verify.setup import check_setup
from viche.verify.tally import ComputeTally, check_tail, check_tally


def verify_record_in_memory(
    path: str | Path, *, jobs: int | None = None, progress: Progress | None = None
) -> VerificationReport:
    """Verify the public record at ``path`` read whole into memory (:func:`read_archive`):
    memory grows with the archive. The same checks and report as
    :func:`~viche.verify.streaming.verify_record`, which is tested against it."""
    t0 = time.perf_counter()
    report = VerificationReport(source=str(path))
    report.jobs = default_jobs() if jobs is None else max(1, jobs)
    run = Run(report, progress)

    # 1. the archive and its chain
    t = time.perf_counter()
    chain = run.r("record.chain")
    try:
        record = read_archive(path)
    except (MissingFileError, StorageError):
        raise
    except VicheError as exc:
        return unreadable_report(str(path), report.jobs, exc, t0)
    chain.count = len(record.events)
    chain.seconds = time.perf_counter() - t
    report.counts.update(
        events=len(record.events),
        ballots=len(record.ballots),
        partial_decryptions=len(record.partial_decryptions),
        shuffles=len(record.shuffles),
    )
    run.tick("record.chain", 1, 1)

    # 2. setup
    t = time.perf_counter()
    election, trustees, credentials = check_setup(run, record)
    report.timing["setup"] = time.perf_counter() - t
    run.tick("setup", 1, 1)

    # 3. ballots
    t = time.perf_counter()
    _check_replays(run, record)
    outcomes: list[BallotOutcome] = []
    res = run.r("ballots")
    if election is not None and credentials is not None:
        total = len(record.ballots)
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            run.tick("ballots", done, total)

        outcomes = check_ballots(
            election,
            credentials,
            [(b.height, b.raw) for b in record.ballots],
            jobs=report.jobs,
            progress=step,
        )
        res.count = total
        for o in outcomes:
            if o.error is not None:
                res.fail(ballot_failure(o.error, o.height, sha256_hex(record.ballots[o.index].raw)))
    else:
        run.na("ballots", "needs a valid election and credentials")
    report.timing["ballots"] = time.perf_counter() - t
    res.seconds = report.timing["ballots"]

    # 4. tally
    t = time.perf_counter()
    counted = _counted(record, outcomes, election) if election is not None else []
    report.counts["counted_ballots"] = len(counted)
    tally: EncryptedTally | None = None
    if election is not None and credentials is not None:
        tally = check_tally(
            run, record.encrypted_tally, election, _in_memory_tally(election, counted)
        )
    else:
        run.na("tally.encrypted", "needs a valid election and credentials")
    report.timing["tally"] = time.perf_counter() - t
    check_tail(run, record, election, trustees, tally)
    report.timing["total"] = time.perf_counter() - t0
    return report


def _check_replays(run: Run, record: Record) -> None:
    res = run.r("ballots.replay")
    first: dict[str, int] = {}
    for b in record.ballots:
        res.count += 1
        earlier = first.get(b.hash)
        if earlier is None:
            first[b.hash] = b.height
            continue
        run.fail(
            "ballots.replay",
            ReplayedBallotError(
                f"ballot replays the ballot of event {earlier} byte for byte",
                where=Location(event=b.height, ballot=b.hash),
            ),
        )


def _counted(
    record: Record, outcomes: Sequence[BallotOutcome], election: Election
) -> list[CheckedBallot]:
    """The last ballot of each credential, in archive order (:func:`last_ballots`).

    Every ballot whose credential is known and that parses takes part, valid or not: an
    invalid ballot is already a failure of the ``ballots`` check, and counting it as the
    tallier did names that ballot instead of flagging the whole tally.
    """
    last: dict[str, BallotOutcome] = {}  # only these need parsing again
    for o in outcomes:
        if o.credential is not None and o.weight > 0:
            last[o.credential] = o
    candidates: list[CheckedBallot] = []
    for o in sorted(last.values(), key=lambda o: o.index):
        assert o.credential is not None
        raw = record.ballots[o.index].raw
        try:
            ballot = Ballot.from_bytes(raw)
        except VicheError:
            continue
        candidates.append(
            CheckedBallot(ballot, raw, o.tracker, sha256_hex(raw), o.credential, o.weight)
        )
    return last_ballots(candidates)


def _in_memory_tally(election: Election, counted: Sequence[CheckedBallot]) -> ComputeTally:
    def compute() -> tuple[EncryptedTally, int, int]:
        mine = compute_encrypted_tally(election, counted)
        sized = sized_tally(mine, counted)
        return mine, sized.num_tallied, sized.total_weight

    return compute
