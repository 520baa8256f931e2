"""The ballots' re-vote index on the credential's SHA-256 (migration 0009), on SQLite and on
PostgreSQL (``board_url``): a board made under 0008 with ballots and a re-vote migrates with
its record byte for byte and its re-votes found; downgraded, the same; the group commit's
look-up compares the credential itself, not only its digest; on PostgreSQL its plan takes
the indexes on a new election whose table has no statistics."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import text

from viche.record import Record, read_archive
from viche.record.archive_store import ballot_credential
from viche.record.sql import SqlBoard, SqlElectionStore, engine_url, schema
from viche.record.sql.board import _MIGRATIONS, _PG_STATE_AND_LOOK_UP, _look_up_values
from viche.record.store import StoredBallot
from viche.service.election_run import Stop
from viche.testing.factories import make_election, plan_for

#: the columns of ``ballots`` under 0008
_OLD_BALLOTS = ("election", "height", "hash", "credential")


@pytest.fixture(scope="module")
def voting(tmp_path_factory: pytest.TempPathFactory) -> Record:
    """An election still open: 3 voters' ballots and one re-vote (4 Ballot events)."""
    run, _ = make_election(
        tmp_path_factory.mktemp("voting"),
        plan_for(voters=3, revotes=1, stop=Stop.BALLOTS),
        seed="pgix7",
    )
    return read_archive(run.archive)


def _credentials(record: Record) -> list[str]:
    """Each ballot's credential, in the record's order."""
    return [ballot_credential(b.raw) for b in record.ballots]


def _migrate(engine: sqlalchemy.Engine, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def _export(store: SqlElectionStore) -> bytes:
    out = io.BytesIO()
    store.write_archive(out)
    return out.getvalue()


def _rows_of(record: Record, tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The rows a board holds for ``record`` (its events replayed with their real
    credentials), read from a board of its own, as 0008 stored them (no digest)."""
    board = SqlBoard.open(f"sqlite:///{tmp_path / 'source.sqlite'}")
    try:
        store = board.create_election(
            record.timestamp,
            record.election,
            record.trustees,
            record.public_credentials,
            uuid=record.path.stem,
            receipt_key="k",
        )
        entries = {b.height: b for b in record.ballots}
        for ev in record.events[1:]:
            entry = entries.get(ev.height)
            stored = None
            if entry is not None:
                stored = StoredBallot(0, "", entry.hash, ballot_credential(entry.raw))
            store.append(
                ev.type,
                [d.raw for d in ev.data],
                expected_head=store.head().hash,
                ballot=stored,
            )
        assert _export(store) == record.path.read_bytes()
        with board.engine.connect() as conn:
            return {
                "elections": [
                    dict(r._mapping) for r in conn.execute(text("SELECT * FROM elections"))
                ],
                "events": [dict(r._mapping) for r in conn.execute(text("SELECT * FROM events"))],
                "ballots": [
                    dict(r._mapping)
                    for r in conn.execute(text(f"SELECT {', '.join(_OLD_BALLOTS)} FROM ballots"))
                ],
            }
    finally:
        board.close()


def _filler(count: int) -> list[dict[str, Any]]:
    """Index entries of another election, enough for several batches of the migration's
    digests (1,000 rows each), with a re-vote every tenth ballot."""
    return [
        {
            "election": "filler",
            "height": h,
            "hash": hashlib.sha256(b"%d" % h).hexdigest(),
            "credential": str(10**616 + h // 10 * 10),
        }
        for h in range(1, count + 1)
    ]


def _ballot_rows(engine: sqlalchemy.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(f"SELECT {', '.join(_OLD_BALLOTS)} FROM ballots ORDER BY election, height")
            )
        ]


@pytest.fixture()
def old_board(
    board_url: str, voting: Record, tmp_path: Path
) -> Iterator[tuple[sqlalchemy.Engine, list[tuple[Any, ...]]]]:
    """The board at 0008 holding ``voting`` and 2,500 ballots of another election, and its
    ballot rows."""
    engine = sqlalchemy.create_engine(engine_url(board_url))
    try:
        _migrate(engine, "0008")
        rows = _rows_of(voting, tmp_path)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO elections VALUES (:uuid, :timestamp, :head_height, :head_hash,"
                    " :head_type, :receipt_key)"
                ),
                [*rows["elections"], {**rows["elections"][0], "uuid": "filler"}],
            )
            conn.execute(
                text("INSERT INTO events VALUES (:election, :height, :hash, :type, :raw, :lines)"),
                rows["events"],
            )
            conn.execute(
                text("INSERT INTO ballots VALUES (:election, :height, :hash, :credential)"),
                [*rows["ballots"], *_filler(2500)],
            )
        yield engine, _ballot_rows(engine)
    finally:
        engine.dispose()


def test_migration_0009_keeps_the_record_and_its_revotes(
    board_url: str, voting: Record, old_board: tuple[sqlalchemy.Engine, list[tuple[Any, ...]]]
) -> None:
    engine, before = old_board
    credentials = _credentials(voting)
    revoter = next(c for c in credentials if credentials.count(c) == 2)
    last = max(b.height for b, c in zip(voting.ballots, credentials, strict=True) if c == revoter)
    board = SqlBoard.open(board_url)  # migrates to the newest revision
    try:
        store = board.store(voting.path.stem)
        assert _export(store) == voting.path.read_bytes()
        assert _ballot_rows(engine) == before
        with engine.connect() as conn:
            digests = conn.execute(text("SELECT credential, credential_sha256 FROM ballots")).all()
        assert len(digests) == len(before) == 2504
        assert all(bytes(d) == hashlib.sha256(c.encode()).digest() for c, d in digests)
        found = store.last_ballot(revoter)
        assert found is not None and found.height == last
        assert store.last_ballot(credentials[0] + "0") is None
        with board.store("filler").casting([], [str(10**616 + 2490), "2490"]) as tx:
            assert tx.found[2] == {str(10**616 + 2490)}  # a row of the last batch
        with store.casting([voting.ballots[0].hash], [revoter, "1" + revoter]) as tx:
            audited, recorded, voted = tx.found
        assert (audited, recorded, voted) == (
            set(),
            {voting.ballots[0].hash: voting.ballots[0].height},
            {revoter},
        )
        # a re-vote cast after the migration is the one found
        head = store.head()
        with store.casting(["f" * 64], [revoter]) as tx:
            assert tx.found[2] == {revoter}
            (moved,) = tx.append_ballots(
                [(voting.ballots[0].raw, StoredBallot(0, "", "f" * 64, revoter))],
                expected_head=head.hash,
            )
        found = store.last_ballot(revoter)
        assert found is not None and (found.height, found.hash) == (moved.height, "f" * 64)
    finally:
        board.close()
    _migrate(engine, "0008", down=True)
    with engine.connect() as conn:
        columns = [
            r[0] for r in conn.execute(text("SELECT * FROM ballots LIMIT 1")).cursor.description
        ]
    assert columns == list(_OLD_BALLOTS)
    after = _ballot_rows(engine)
    assert set(before) <= set(after) and len(after) == len(before) + 1
    board = SqlBoard.open(board_url)  # and up again
    try:
        found = board.store(voting.path.stem).last_ballot(revoter)
        assert found is not None and found.hash == "f" * 64
    finally:
        board.close()


def test_a_digest_match_alone_is_no_revote(board_url: str, voting: Record) -> None:
    """Failure twin: an index entry whose digest is the credential's but whose credential
    is another (a collision, made by hand) is neither a re-vote nor the last ballot."""
    board = SqlBoard.open(board_url)
    try:
        store = board.create_election(
            voting.timestamp,
            voting.election,
            voting.trustees,
            voting.public_credentials,
            uuid="twin",
            receipt_key="k",
        )
        ballot = voting.ballots[0]
        event = next(ev for ev in voting.events if ev.height == ballot.height)
        store.append(
            event.type,
            [d.raw for d in event.data],
            expected_head=store.head().hash,
            ballot=StoredBallot(0, "", ballot.hash, "123"),
        )
        with board.engine.begin() as conn:
            conn.execute(
                sqlalchemy.update(schema.ballots).values(
                    credential_sha256=schema.credential_sha256("456")
                )
            )
        assert store.last_ballot("456") is None
        with store.casting([], ["456"]) as tx:
            assert tx.found[2] == set()
        with board.engine.begin() as conn:
            conn.execute(
                sqlalchemy.update(schema.ballots).values(
                    credential_sha256=schema.credential_sha256("123")
                )
            )
        with store.casting([], ["456", "123"]) as tx:  # the twin's control
            assert tx.found[2] == {"123"}
    finally:
        board.close()


@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("count", [300, 800])
def test_a_new_elections_look_up_takes_the_indexes_without_statistics(
    board_url: str, count: int
) -> None:
    """A new election's ballots table has no statistics (autovacuum analyses it after a
    minute): the group commit's look-up must still find ballots through
    ``ballots_by_hash`` and ``ballots_by_credential_sha256``, never by filtering every
    ballot of the election (what it did with ``election = …`` in the same condition, for
    the first ~700 ballots: bench/serve_ingest/README.md, pgsql7)."""
    board = SqlBoard.open(board_url)
    try:
        with board.engine.begin() as conn:
            conn.execute(
                sqlalchemy.insert(schema.elections),
                {
                    "uuid": "fresh",
                    "timestamp": 1,
                    "head_height": count,
                    "head_hash": "0" * 64,
                    "head_type": "Ballot",
                    "receipt_key": "k",
                },
            )
            conn.execute(
                sqlalchemy.insert(schema.ballots),
                [
                    {**entry, "credential_sha256": schema.credential_sha256(entry["credential"])}
                    for entry in _filler(count)
                    for entry in [{**entry, "election": "fresh"}]
                ],
            )
            analysed = conn.execute(
                text(
                    "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables"
                    " WHERE relid = 'ballots'::regclass"
                )
            ).one()
        assert analysed == (None, None)
        values = _look_up_values("fresh", ["a" * 64, "b" * 64], ["1", str(10**616 + 10)])
        raw = board.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            with driver.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + _PG_STATE_AND_LOOK_UP, values)
                plan = "\n".join(str(r[0]) for r in cur.fetchall())
        finally:
            raw.close()
        assert "Index Cond: ((hash)::text = ANY" in plan, plan
        assert "Index Cond: (credential_sha256 = ANY" in plan, plan
        assert "Seq Scan on ballots" not in plan, plan
        removed = [line for line in plan.splitlines() if "Rows Removed by Filter" in line]
        assert all(int(line.split(":")[1]) <= 20 for line in removed), plan
    finally:
        board.close()
