"""Group commit on the SQL board: ballots cast at once are appended together, each still
checked in order (replays refused, re-votes of one credential serialised), answered only
with a durable event; a failed commit writes and accepts none of its batch."""

from __future__ import annotations

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
from viche.service.cast import Accepted, cast_ballot
from viche.service.election_run import random_choices
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


def test_ballots_cast_at_once_share_commits_and_keep_every_rule(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, again, other = (
        _ballot(served, 1, "g1"),
        _ballot(served, 1, "g1b"),
        _ballot(served, 2, "g2"),
    )
    raws = [first, again, other, other, _ballot(served, 3, "g3"), _ballot(served, 4, "g4")]
    sizes: list[int] = []
    _slow_batches(served, monkeypatch, sizes)
    start_height = served.store.head().height

    out = _cast_together(served, raws)

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
