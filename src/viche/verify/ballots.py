"""Per-ballot checks in parallel: a process pool whose workers are initialised once with the
election, the public credentials and the fixed-base tables of g and y, and receive the
ballots in chunks.

Each ballot goes through :func:`viche.protocol.ballot.check_ballot` (canonical form, uuid,
election hash, known credential, weight, membership, signature, every proof). A worker sends
back, per ballot, the failure (if any) and what choosing the counted ballots needs: the
credential and its weight (as long as the ballot could be parsed at all).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from viche.crypto.fastexp import fixed_base_table
from viche.crypto.hashing import b64_sha256, sha256_hex
from viche.errors import Location, VicheError
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.election import Election, PublicCredentials
from viche.verify.counting import ChunkTally, CountedItem, TallyPart, chunk_tally, tally_part
from viche.verify.prefill import check_ballot_fast


@dataclass(frozen=True)
class BallotOutcome:
    """The verdict on one ballot (picklable)."""

    index: int
    height: int
    tracker: str
    credential: str | None
    weight: int
    error: tuple[str, str, str, Location] | None  # (class name, code, message, where)


_STATE: tuple[Election, PublicCredentials] | None = None
T = TypeVar("T")
R = TypeVar("R")


def warm_tables(election: Election) -> None:
    """Build the fixed-base tables of g and y in this process (before the work starts)."""
    group = election.group
    bits = group.q.bit_length()
    fixed_base_table(group.g, group.p, bits)
    fixed_base_table(election.public_key.y, group.p, bits)


def init_worker(election_raw: bytes, credentials_raw: bytes) -> None:
    global _STATE  # noqa: PLW0603 (one state per worker process, set once)
    # A forked worker shares the parent's pages until it writes to them; the cyclic GC
    # writes to every object it traverses, which would copy the parent's whole heap into
    # each worker. Frozen objects are never traversed.
    gc.freeze()
    election = Election.from_bytes(election_raw)
    credentials = PublicCredentials.from_bytes(credentials_raw)
    warm_tables(election)
    _STATE = (election, credentials)


_STATE_SOURCE: tuple[bytes, bytes] | None = None


def run_with_state(
    fn: Callable[[T], R], election_raw: bytes, credentials_raw: bytes, chunk: T
) -> R:
    """``fn(chunk)`` on a worker that has no initializer (a dask.distributed worker): the
    state is built the first time, and again only when other setup bytes arrive (the
    cluster keeps one scattered copy per worker, so an identity test suffices)."""
    global _STATE_SOURCE  # noqa: PLW0603 (the state of this worker process)
    src = _STATE_SOURCE
    if src is None or src[0] is not election_raw or src[1] is not credentials_raw:
        init_worker(election_raw, credentials_raw)
        _STATE_SOURCE = (election_raw, credentials_raw)
    return fn(chunk)


def check_one(
    election: Election, credentials: PublicCredentials, index: int, height: int, raw: bytes
) -> BallotOutcome:
    """Check one ballot; never raises for a bad ballot (the outcome carries the error)."""
    return check_and_keep(election, credentials, index, height, raw)[0]


def check_and_keep(
    election: Election, credentials: PublicCredentials, index: int, height: int, raw: bytes
) -> tuple[BallotOutcome, CheckedBallot | None]:
    """:func:`check_one`, and the parsed ballot when it can take part in the tally (its
    credential is known, with a weight): valid or not, as in
    the reference verifier (:mod:`viche.verify.reference`)."""
    where = Location(event=height)
    try:
        checked = check_ballot_fast(election, raw, credentials, where)
    except VicheError as exc:
        tracker = b64_sha256(raw)
        credential: str | None = None
        weight = 0
        kept: CheckedBallot | None = None
        try:
            ballot = Ballot.from_bytes(raw, where)
            credential = str(ballot.credential)
            if credential in credentials:
                weight = credentials.weight(credential)
                kept = CheckedBallot(ballot, raw, tracker, sha256_hex(raw), credential, weight)
        except VicheError:
            pass
        outcome = BallotOutcome(
            index,
            height,
            tracker,
            credential,
            weight,
            (type(exc).__name__, exc.code, exc.message, exc.where),
        )
        return outcome, (kept if weight > 0 else None)
    outcome = BallotOutcome(
        index,
        height,
        checked.tracker,
        checked.credential,
        checked.weight,
        None,
    )
    return outcome, (checked if checked.weight > 0 else None)


def _check_chunk(chunk: Sequence[tuple[int, int, bytes]]) -> list[BallotOutcome]:
    assert _STATE is not None, "worker not initialised"
    election, credentials = _STATE
    return [check_one(election, credentials, i, h, raw) for i, h, raw in chunk]


def check_and_count(
    election: Election, credentials: PublicCredentials, chunk: Sequence[tuple[int, int, bytes]]
) -> tuple[list[BallotOutcome], ChunkTally]:
    """Check every ballot of ``chunk`` and return, besides the outcomes, what its ballots
    that can be counted bring to the tally (:func:`~viche.verify.counting.chunk_tally`)."""
    outcomes: list[BallotOutcome] = []
    candidates: list[tuple[int, CheckedBallot]] = []
    for i, h, raw in chunk:
        outcome, kept = check_and_keep(election, credentials, i, h, raw)
        outcomes.append(outcome)
        if kept is not None:
            candidates.append((i, kept))
    return outcomes, chunk_tally(election, candidates)


def check_count_chunk(
    chunk: Sequence[tuple[int, int, bytes]],
) -> tuple[list[BallotOutcome], ChunkTally]:
    assert _STATE is not None, "worker not initialised"
    return check_and_count(_STATE[0], _STATE[1], chunk)


def mp_context() -> multiprocessing.context.BaseContext:
    """``fork`` (workers start at once, sharing the parsed state) when this process runs a
    single thread; ``forkserver`` when other threads exist (forking a threaded process can
    leave a lock held in the child); ``spawn`` off POSIX."""
    if os.name != "posix":
        return multiprocessing.get_context("spawn")
    if threading.active_count() > 1:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("fork")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def check_ballots(
    election: Election,
    credentials: PublicCredentials,
    ballots: Sequence[tuple[int, bytes]],
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[BallotOutcome]:
    """Check every ``(height, raw)`` ballot, in ``jobs`` processes (all cores by default).

    Returns the outcomes in input order. ``progress(n)`` is called with the number of
    ballots just finished.
    """
    n = len(ballots)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    items = [(i, h, raw) for i, (h, raw) in enumerate(ballots)]
    if jobs == 1 or n < 8:
        if n:
            warm_tables(election)
        out: list[BallotOutcome] = []
        for i, h, raw in items:
            out.append(check_one(election, credentials, i, h, raw))
            if progress is not None:
                progress(1)
        return out
    size = max(1, min(32, n // (jobs * 8)))
    chunks = [items[k : k + size] for k in range(0, n, size)]
    results: list[BallotOutcome | None] = [None] * n
    ctx = mp_context()
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=ctx,
        initializer=init_worker,
        initargs=(election.raw, credentials.raw),
    ) as pool:
        for done in _as_done(pool, chunks):
            for outcome in done:
                results[outcome.index] = outcome
            if progress is not None:
                progress(len(done))
    final = [r for r in results if r is not None]
    assert len(final) == n
    return final


def _as_done(
    pool: ProcessPoolExecutor, chunks: list[list[tuple[int, int, bytes]]]
) -> Iterator[list[BallotOutcome]]:
    """Results chunk by chunk, as they finish."""
    from concurrent.futures import as_completed

    futures = [pool.submit(_check_chunk, chunk) for chunk in chunks]
    for fut in as_completed(futures):
        yield fut.result()


# ---------------------------------------------------------------------- credentials


def _non_members(args: tuple[str, list[tuple[int, str]]]) -> list[int]:
    """Indices of the credentials (decimal text) that are not group elements."""
    from gmpy2 import mpz

    from viche.crypto.group import group_by_name

    group = group_by_name(args[0])
    return [i for i, text in args[1] if not group.is_element(mpz(text))]


def check_credential_members(
    election: Election, credentials: PublicCredentials, *, jobs: int | None = None
) -> list[int]:
    """0-based indices of the public credentials that are not group elements (one
    exponentiation each, spread over ``jobs`` processes for long lists)."""
    items = [(i, e.text) for i, e in enumerate(credentials.entries)]
    jobs = default_jobs() if jobs is None else max(1, jobs)
    name = election.group.name
    if jobs == 1 or len(items) < 512:
        return _non_members((name, items))
    size = max(64, len(items) // (jobs * 4))
    chunks = [(name, items[k : k + size]) for k in range(0, len(items), size)]
    ctx = mp_context()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return sorted(i for bad in pool.map(_non_members, chunks) for i in bad)


# ---------------------------------------------------------------------- counted ballots


def tally_chunk(chunk: Sequence[CountedItem]) -> TallyPart:
    assert _STATE is not None, "worker not initialised"
    return tally_part(_STATE[0], chunk)
