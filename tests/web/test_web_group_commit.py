"""Group commit on the SQL board: ballots cast at once are appended together, each still
checked in order (replays refused, re-votes of one credential serialised), answered only
with a durable event; a failed commit writes and accepts none of its batch. The same for
casts waiting on an event loop (the voting server's), which hold no thread meanwhile, and
for both kinds at once."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from support.web import Served
from viche.crypto.rng import SeededRandom
from viche.errors import DatabaseError, Location, ReplayedBallotError
from viche.protocol.ballot import smart_ballot_tracker
from viche.record.sql.board import CastingTransaction, PgCastingTransaction
from viche.record.store import ChainHead, StoredBallot
from viche.service.ballot import generate_ballot
from viche.service.cast import Accepted, append_checked_queued, cast_ballot
from viche.service.election_run import random_choices
from viche.verify.prefill import check_ballot_fast
from viche.verify.streaming import verify_record


def _ballot(served: Served, voter: int, seed: str) -> bytes:
    e = served.prepared.election
    rng = SeededRandom(seed)
    return generate_ballot(
        e, served.prepared.credentials, served.credential(voter), random_choices(e, rng), rng
    ).raw


def _cast_together(served: Served, raws: Sequence[bytes]) -> list[Accepted | Exception]:
    record = served.host.record(served.uuid)
    out: list[Accepted | Exception] = [RuntimeError("not run")] * len(raws)
    start = threading.Barrier(len(raws))

    def one(i: int) -> None:
        start.wait()
        try:
            out[i] = cast_ballot(record, raws[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(raws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return out


def _cast_on_a_loop(
    served: Served, raws: Sequence[bytes], threads: list[int] | None = None
) -> list[Accepted | Exception]:
    """``raws`` checked, then cast at once by tasks of one event loop
    (:func:`append_checked_queued`); ``threads``: this process's thread count, seen by each
    cast while it waits for its commit."""
    record = served.host.record(served.uuid)
    checked = [check_ballot_fast(record.election, raw, record.credentials) for raw in raws]

    async def one(i: int) -> Accepted | Exception:
        try:
            return await append_checked_queued(record, checked[i])
        except Exception as exc:
            return exc

    async def watch() -> None:
        while threads is not None:
            threads.append(threading.active_count())
            await asyncio.sleep(0.05)

    async def burst() -> list[Accepted | Exception]:
        watcher = asyncio.create_task(watch())
        out = await asyncio.gather(*(one(i) for i in range(len(raws))))
        watcher.cancel()
        return list(out)

    return asyncio.run(burst())


def _transaction(served: Served) -> type[CastingTransaction | PgCastingTransaction]:
    """The group commit's transaction on this board (PostgreSQL: in pipeline mode)."""
    if served.host.board.dialect == "postgresql":
        return PgCastingTransaction
    return CastingTransaction


def _slow_batches(served: Served, monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> None:
    """The first commit waits, so that the others queue behind it; batch sizes recorded."""
    cls = _transaction(served)
    real = cls.append_ballots

    def slow(
        self: Any, ballots: Sequence[tuple[bytes, StoredBallot]], **kw: Any
    ) -> list[ChainHead]:
        if not sizes:
            time.sleep(1.0)
        sizes.append(len(ballots))
        return real(self, ballots, **kw)

    monkeypatch.setattr(cls, "append_ballots", slow)


@pytest.mark.parametrize("waiting", ["threads", "event loop"])
def test_ballots_cast_at_once_share_commits_and_keep_every_rule(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, waiting: str
) -> None:
    """Ballots cast at once, by threads (the ``viche`` commands' way) or on an event loop
    (the server's), share commits and keep every rule (a replay refused, a re-vote counted);
    on the loop, six casts waiting a second for their commit take one commit thread, not
    one thread each."""
    first, again, other = (
        _ballot(served, 1, "g1"),
        _ballot(served, 1, "g1b"),
        _ballot(served, 2, "g2"),
    )
    raws = [first, again, other, other, _ballot(served, 3, "g3"), _ballot(served, 4, "g4")]
    sizes: list[int] = []
    _slow_batches(served, monkeypatch, sizes)
    start_height = served.store.head().height
    threads: list[int] = []
    before = threading.active_count()

    if waiting == "threads":
        out = _cast_together(served, raws)
    else:
        out = _cast_on_a_loop(served, raws, threads)
        assert threads and max(threads) <= before + 1

    replays = [o for o in out if isinstance(o, ReplayedBallotError)]
    accepted = [o for o in out if isinstance(o, Accepted)]
    assert len(replays) == 1 and len(accepted) == 5, out
    assert max(sizes) > 1 and sum(sizes) == 5  # some ballots shared a commit
    heights = sorted(a.height for a in accepted)
    assert heights == list(range(start_height + 1, start_height + 6))
    mine = {smart_ballot_tracker(first), smart_ballot_tracker(again)}
    voter1 = sorted((a for a in accepted if a.tracker in mine), key=lambda a: a.height)
    assert [a.revote for a in voter1] == [False, True]
    assert served.store.ballot_count() == 5
    assert served.store.head().height == heights[-1]
    archive = tmp_path / f"{served.uuid}.bel"
    with archive.open("wb") as f:
        served.store.write_archive(f)
    report = verify_record(archive, jobs=1)
    assert report.ok, report.failures


def test_a_failed_group_commit_accepts_and_writes_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [_ballot(served, n, f"f{n}") for n in (1, 2, 3)]
    before = served.store.head()

    cls = _transaction(served)
    real = cls.append_ballots

    def broken(
        self: Any, ballots: Sequence[tuple[bytes, StoredBallot]], **kw: Any
    ) -> list[ChainHead]:
        time.sleep(0.5)
        real(self, ballots, **kw)  # written in the transaction, which then fails: rolled back
        raise DatabaseError("the database failed: OperationalError", where=Location())

    monkeypatch.setattr(cls, "append_ballots", broken)
    out = _cast_together(served, raws)
    assert all(isinstance(o, DatabaseError) for o in out), out
    assert served.store.head() == before
    assert served.store.ballot_count() == 0
    monkeypatch.undo()
    # the committer is free again: the same ballots are accepted afterwards
    assert all(isinstance(o, Accepted) for o in _cast_together(served, raws))


def test_threads_and_event_loops_cast_at_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Casts of threads (``viche`` commands' way) and of an event loop queue for the same
    commits: every one is committed and answered, whoever leads."""
    sizes: list[int] = []
    _slow_batches(served, monkeypatch, sizes)
    on_loop = [_ballot(served, n, f"l{n}") for n in (1, 2, 3, 4)]
    in_threads = [_ballot(served, n, f"t{n}") for n in (1, 2, 3, 4)]
    results: dict[str, list[Accepted | Exception]] = {}
    loop_side = threading.Thread(
        target=lambda: results.setdefault("loop", _cast_on_a_loop(served, on_loop))
    )
    loop_side.start()
    results["threads"] = _cast_together(served, in_threads)
    loop_side.join(timeout=300)
    out = results["loop"] + results["threads"]
    assert all(isinstance(o, Accepted) for o in out), out
    assert served.store.ballot_count() == 8 and sum(sizes) == 8


def test_a_cancelled_cast_on_a_loop_is_still_committed_and_stops_nobody(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller cancelled while its ballot waits for the commit (its client gone): the
    ballot is committed as a thread's would be, the others are answered, and the next
    casts find the committer free."""
    sizes: list[int] = []
    _slow_batches(served, monkeypatch, sizes)
    record = served.host.record(served.uuid)
    raws = [_ballot(served, n, f"c{n}") for n in (1, 2, 3)]
    checked = [check_ballot_fast(record.election, raw, record.credentials) for raw in raws]

    async def scene() -> list[Accepted]:
        tasks = [asyncio.create_task(append_checked_queued(record, c)) for c in checked]
        await asyncio.sleep(0.2)  # the first commit is under way, the others queued
        tasks[0].cancel()
        tasks[1].cancel()
        for t in tasks[:2]:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        return [await tasks[2]]

    assert len(asyncio.run(scene())) == 1
    deadline = time.monotonic() + 30
    while served.store.ballot_count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.store.ballot_count() == 3
    later = _cast_on_a_loop(served, [_ballot(served, 4, "c4")])
    assert isinstance(later[0], Accepted)


def test_a_failed_group_commit_on_a_loop_accepts_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [_ballot(served, n, f"fl{n}") for n in (1, 2, 3)]
    before = served.store.head()
    cls = _transaction(served)

    def broken(self: Any, ballots: Sequence[tuple[bytes, StoredBallot]], **kw: Any) -> None:
        time.sleep(0.3)
        raise DatabaseError("the database failed: OperationalError", where=Location())

    monkeypatch.setattr(cls, "append_ballots", broken)
    out = _cast_on_a_loop(served, raws)
    assert all(isinstance(o, DatabaseError) for o in out), out
    assert served.store.head() == before and served.store.ballot_count() == 0
    monkeypatch.undo()
    assert all(isinstance(o, Accepted) for o in _cast_on_a_loop(served, raws))
