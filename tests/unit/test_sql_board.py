"""The SQL bulletin board as an ElectionStore, on SQLite and on PostgreSQL (``board_url``).

A complete election written by Viche (``.bel``) is replayed event by event into the board:
its export must be the same archive byte for byte, and belenios-tool must verify it.
"""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy import text, update

from support.belenios import tool_verifies
from viche.errors import (
    ArchiveFormatError,
    DatabaseError,
    HeadMovedError,
    PhaseError,
    RecordError,
    UnknownElectionError,
    UsageError,
)
from viche.record import Record, read_archive
from viche.record.events import EventType
from viche.record.sql import SqlBoard, SqlElectionStore, accounts, schema
from viche.record.sql.accounts import VoterAccount, add_voters, voter, voter_and_state
from viche.record.store import ElectionStore, StoredBallot
from viche.service.election_run import Stop
from viche.testing.factories import make_election, plan_for


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Record:
    """A whole election (3 voters, one re-vote, result) written by Viche."""
    run, _ = make_election(tmp_path_factory.mktemp("election"), plan_for(voters=3, revotes=1))
    return read_archive(run.archive)


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Record:
    run, _ = make_election(
        tmp_path_factory.mktemp("opened"), plan_for(voters=2, stop=Stop.SETUP), seed="opened"
    )
    return read_archive(run.archive)


def _board_with(url: str, record: Record) -> tuple[SqlBoard, SqlElectionStore]:
    board = SqlBoard.open(url)
    uuid = record.path.stem
    store = board.create_election(
        record.timestamp,
        record.election,
        record.trustees,
        record.public_credentials,
        uuid=uuid,
        receipt_key="k",
    )
    return board, store


def _replay(store: ElectionStore, record: Record) -> None:
    ballots = {b.height: b for b in record.ballots}
    for ev in record.events[1:]:
        entry = ballots.get(ev.height)
        stored = None
        if entry is not None:
            stored = StoredBallot(0, "", entry.hash, f"cred-{entry.hash[:8]}")
        head = store.head()
        store.append(ev.type, [d.raw for d in ev.data], expected_head=head.hash, ballot=stored)


def _export(store: ElectionStore) -> bytes:
    out = io.BytesIO()
    store.write_archive(out)
    return out.getvalue()


def test_export_is_the_same_archive_byte_for_byte(board_url: str, finished: Record) -> None:
    board, store = _board_with(board_url, finished)
    try:
        assert isinstance(store, ElectionStore)
        _replay(store, finished)
        assert _export(store) == finished.path.read_bytes()
        head = store.head()
        assert (head.height, head.hash, head.type) == (
            finished.height,
            finished.last_hash,
            EventType.RESULT,
        )
        assert store.ballot_count() == len(finished.ballots)
        events = list(store.events())
        assert [t for t, _ in events] == [e.type for e in finished.events[1:]]
        assert [list(lines) for _, lines in events] == [
            [d.raw for d in e.data] for e in finished.events[1:]
        ]
        setup = store.setup()
        assert (setup.election, setup.trustees, setup.credentials) == (
            finished.election,
            finished.trustees,
            finished.public_credentials,
        )
    finally:
        board.close()


def test_export_differs_when_a_stored_byte_changes(board_url: str, finished: Record) -> None:
    """Failure twin: the export is built from the stored bytes, not from a cached archive."""
    board, store = _board_with(board_url, finished)
    try:
        from sqlalchemy import update

        from viche.record.sql import schema

        _replay(store, finished)
        with board.engine.begin() as conn:
            conn.execute(
                update(schema.events)
                .where(schema.events.c.height == 1)
                .values(raw=finished.events[1].raw.replace(b'"height":1', b'"height":7'))
            )
        assert _export(store) != finished.path.read_bytes()
    finally:
        board.close()


@pytest.mark.interop
def test_belenios_tool_verifies_the_export_at_every_phase(
    board_url: str, finished: Record, tmp_path: Path, belenios_tool: str
) -> None:
    board, store = _board_with(board_url, finished)
    try:
        ballots = {b.height: b for b in finished.ballots}
        for i, ev in enumerate(finished.events[1:], start=1):
            entry = ballots.get(ev.height)
            stored = StoredBallot(0, "", entry.hash, entry.hash) if entry else None
            store.append(
                ev.type, [d.raw for d in ev.data], expected_head=store.head().hash, ballot=stored
            )
            if (ev.type is EventType.BALLOT and i % 2 == 0) or ev.type is EventType.RESULT:
                d = tmp_path / f"at-{i}"
                d.mkdir()
                (d / finished.path.name).write_bytes(_export(store))
                ok, err = tool_verifies(belenios_tool, d)
                assert ok, err
    finally:
        board.close()


def test_indexes_answer_replays_and_revotes(board_url: str, finished: Record) -> None:
    board, store = _board_with(board_url, finished)
    try:
        assert store.last_ballot("c1") is None
        first = finished.ballots[0]
        stored = []
        for n, entry in enumerate(finished.ballots[:3]):
            head = store.append(
                EventType.BALLOT,
                [entry.raw],
                expected_head=store.head().hash,
                ballot=StoredBallot(0, "", entry.hash, "c1" if n != 1 else "c2"),
            )
            stored.append(head)
        got = store.ballot_by_hash(first.hash)
        assert got is not None
        assert (got.height, got.event_hash, got.credential) == (1, stored[0].hash, "c1")
        last = store.last_ballot("c1")
        assert last is not None and last.height == 3
        assert store.ballot_by_hash("0" * 64) is None
        assert store.ballot_count() == 3
        assert store.data_member(first.hash) == first.raw
        assert store.data_member(stored[1].hash) is not None
        assert store.data_member("f" * 64) is None
    finally:
        board.close()


def test_refused_appends_change_nothing(board_url: str, finished: Record) -> None:
    board, store = _board_with(board_url, finished)
    try:
        entry = finished.ballots[0]
        ballot = StoredBallot(0, "", entry.hash, "c")
        before = _export(store)
        with pytest.raises(HeadMovedError):
            store.append(EventType.BALLOT, [entry.raw], expected_head="0" * 64, ballot=ballot)
        head = store.head().hash
        with pytest.raises(PhaseError):
            store.append(EventType.RESULT, [b"{}"], expected_head=head)
        with pytest.raises(ArchiveFormatError):
            store.append(EventType.BALLOT, [b"a\nb"], expected_head=head, ballot=ballot)
        with pytest.raises(ArchiveFormatError):
            store.append(EventType.BALLOT, [entry.raw], expected_head=head)  # no index entry
        store.append(EventType.BALLOT, [entry.raw], expected_head=head, ballot=ballot)
        after_one = _export(store)
        with pytest.raises(RecordError):  # the same ballot hash twice in the index
            store.append(
                EventType.BALLOT, [entry.raw], expected_head=store.head().hash, ballot=ballot
            )
        assert _export(store) == after_one != before
        assert store.ballot_count() == 1
    finally:
        board.close()


def test_concurrent_writers_are_serialised(board_url: str, finished: Record) -> None:
    """Eight threads each read the head and append under the lock: every append lands,
    the chain has no fork."""
    board, store = _board_with(board_url, finished)
    errors: list[BaseException] = []
    entries = finished.ballots

    def cast(n: int) -> None:
        try:
            own = board.store(store.name.split(" / ")[1])
            with own.locked():
                head = own.head()
                own.append(
                    EventType.BALLOT,
                    [entries[n % len(entries)].raw],
                    expected_head=head.hash,
                    ballot=StoredBallot(0, "", f"{n:064x}", "c"),
                )
        except BaseException as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=cast, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.head().height == 8
        last = store.last_ballot("c")
        assert last is not None and last.height == 8
        read_archive_bytes = _export(store)
        assert len(read_archive_bytes) > 0
    finally:
        board.close()


def test_without_the_lock_a_second_writer_is_refused(board_url: str, finished: Record) -> None:
    board, store = _board_with(board_url, finished)
    try:
        head = store.head().hash
        e0, e1 = finished.ballots[0], finished.ballots[1]
        store.append(
            EventType.BALLOT, [e0.raw], expected_head=head, ballot=StoredBallot(0, "", e0.hash, "a")
        )
        with pytest.raises(HeadMovedError):
            store.append(
                EventType.BALLOT,
                [e1.raw],
                expected_head=head,
                ballot=StoredBallot(0, "", e1.hash, "b"),
            )
        assert store.ballot_count() == 1
    finally:
        board.close()


def test_a_group_commit_whose_head_moved_writes_nothing(
    board_url: str, opened: Record, finished: Record
) -> None:
    """The group commit's append (PostgreSQL: sent with its COMMIT before any answer is
    read) is refused when the head is not the one it expects, and nothing is written."""
    board, store = _board_with(board_url, opened)
    try:
        e0 = finished.ballots[0]
        events = len(list(store.events()))
        with pytest.raises(HeadMovedError), store.casting([e0.hash], ["a"]) as tx:
            # a writer without the lock moves the head after it was read
            with board.engine.begin() as conn:
                conn.execute(
                    update(schema.elections)
                    .where(schema.elections.c.uuid == store.uuid)
                    .values(head_hash="0" * 64)
                )
            tx.append_ballots(
                [(e0.raw, StoredBallot(0, "", e0.hash, "a"))], expected_head=tx.head.hash
            )
        assert store.ballot_count() == 0
        assert len(list(store.events())) == events
        assert store.head().hash == "0" * 64  # the other writer's change, and only it
    finally:
        board.close()


def test_a_group_commit_refused_or_interrupted_writes_nothing(
    board_url: str, opened: Record, finished: Record
) -> None:
    """The group commit's transaction (SQLite: on the driver's connection) writes nothing
    when the database refuses a write (a ballot hash indexed twice: RecordError) or when
    its block raises; the connection goes back to the pool usable, and a commit after them
    lands with its head."""
    board, store = _board_with(board_url, opened)
    try:
        e0, e1 = finished.ballots[0], finished.ballots[1]
        before = _export(store)
        with pytest.raises(RecordError), store.casting([e0.hash], ["a"]) as tx:
            tx.append_ballots(
                [
                    (e0.raw, StoredBallot(0, "", e0.hash, "a")),
                    (e1.raw, StoredBallot(0, "", e0.hash, "b")),
                ],
                expected_head=tx.head.hash,
            )
        with pytest.raises(PhaseError), store.casting([e1.hash], ["b"]) as tx:
            tx.append_ballots(
                [(e1.raw, StoredBallot(0, "", e1.hash, "b"))], expected_head=tx.head.hash
            )
            raise PhaseError("the caller's own check failed")
        assert _export(store) == before
        assert store.ballot_count() == 0
        for _ in range(3):  # more commits than a refused one could have left behind
            with store.casting([e0.hash, e1.hash], ["a", "b"]) as tx:
                assert tx.found == (set(), {}, set())
        with store.casting([e0.hash, e1.hash], ["a", "b"]) as tx:
            heads = tx.append_ballots(
                [
                    (e0.raw, StoredBallot(0, "", e0.hash, "a")),
                    (e1.raw, StoredBallot(0, "", e1.hash, "b")),
                ],
                expected_head=tx.head.hash,
            )
        assert store.head() == heads[-1] and store.ballot_count() == 2
        with store.casting([e1.hash, "f" * 64], ["b", "c"]) as tx:
            assert tx.found == (set(), {e1.hash: heads[1].height}, {"b"})
            assert tx.head == heads[-1]
    finally:
        board.close()


def test_reopening_resumes(board_url: str, opened: Record) -> None:
    board, _ = _board_with(board_url, opened)
    board.close()
    again = SqlBoard.open(board_url)  # migrations already applied: nothing to do
    try:
        assert again.elections() == [opened.path.stem]
        assert _export(again.store(opened.path.stem)) == opened.path.read_bytes()
        with pytest.raises(RecordError):
            again.create_election(1, b"e", b"t", b"c", uuid=opened.path.stem, receipt_key="k")
        with pytest.raises(UnknownElectionError):
            again.store("nope")
    finally:
        again.close()


def test_migrations_create_exactly_the_schema(board_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from viche.record.sql.schema import metadata

    board = SqlBoard.open(board_url)
    try:
        with board.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        board.close()


@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
def test_postgresql_compresses_the_events_data_lines_with_lz4(board_url: str) -> None:
    """A ballot's data line (17 kB of decimal digits): PostgreSQL's default compression
    (pglz) cost its backend ~0.5 ms of CPU per ballot; lz4 ~0.05 ms for nearly the same
    size (bench/serve_ingest/README.md, pgwave7). Without lz4 (before PostgreSQL 14, or a
    build without it) the line is stored uncompressed. What is stored reads back the same."""
    board = SqlBoard.open(board_url)
    try:
        with board.engine.connect() as conn:
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
            column = "attcompression" if int(version) >= 140000 else "''"
            storage, method = conn.execute(
                text(
                    f"SELECT attstorage, {column} FROM pg_attribute"
                    " WHERE attrelid = 'events'::regclass AND attname = 'lines'"
                )
            ).one()
        assert (storage, method) in (("x", "l"), ("e", ""))
    finally:
        board.close()


def test_the_cast_paths_look_ups_run_outside_any_transaction(
    board_url: str, opened: Record
) -> None:
    """The login and the voting state (``SqlBoard.first_row``: compiled once, run on the
    pool's DBAPI connection) answer what the database holds when they run, and leave the
    pooled connection as they found it: a transaction on it afterwards still rolls back."""
    board, store = _board_with(board_url, opened)
    board.close()
    board = SqlBoard.open(board_url, pool_size=1)  # one connection: the same one each time
    try:
        olena = VoterAccount("olena", "o@x", "c1", "h")
        add_voters(board, store.uuid, [olena])
        assert voter(board, store.uuid, "olena") == olena
        assert voter(board, store.uuid, "nobody") is None
        assert voter(board, store.uuid, "o" * 256) is None
        assert voter(board, "no-such-election", "olena") is None
        state = board.store(store.uuid)
        head = state.head()
        assert voter_and_state(board, store.uuid, "olena") == (olena, head, None)
        assert voter_and_state(board, store.uuid, "nobody") == (None, head, None)
        assert voter_and_state(board, store.uuid, "o" * 256) == (None, head, None)
        with pytest.raises(UnknownElectionError):
            voter_and_state(board, "no-such-election", "olena")
        with board.engine.begin() as conn:  # committed by another statement: seen at once
            conn.execute(
                schema.schedules.insert().values(election=store.uuid, close_at=1_900_000_000)
            )
        assert voter_and_state(board, store.uuid, "olena") == (olena, head, 1_900_000_000)
        assert voter_and_state(board, store.uuid, "nobody") == (None, head, 1_900_000_000)
        with pytest.raises(RuntimeError), board.engine.begin() as conn:
            conn.execute(schema.audits.insert().values(election=store.uuid, hash="a" * 64))
            raise RuntimeError
        with board.engine.connect() as conn:
            assert conn.execute(schema.audits.select()).all() == []
    finally:
        board.close()


@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
def test_the_login_look_up_probes_the_roll_by_its_key_from_the_first_cast(
    board_url: str, opened: Record
) -> None:
    """Once the roll is written (no autovacuum ANALYZE yet), the cast's look-up finds the
    voter by the primary key (election, login), not by scanning the election's roll: the
    statistics are gathered when the roll is written."""
    board, store = _board_with(board_url, opened)
    try:
        roll = [VoterAccount(f"v{i:04d}", "a@x", f"c{i}", "h") for i in range(800)]
        add_voters(board, store.uuid, roll)
        assert voter_and_state(board, store.uuid, "v0417")[0] == roll[417]
        statement = accounts._VOTER_AND_STATE.compile(dialect=board.engine.dialect)
        with board.engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            with driver.cursor() as cursor:
                cursor.execute(
                    "EXPLAIN (ANALYZE, FORMAT TEXT) " + str(statement),
                    {"uuid": store.uuid, "login": "v0417"},
                )
                plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "voters_pkey" in plan, plan
        assert "Rows Removed by Filter" not in plan, plan
    finally:
        board.close()


@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
def test_a_look_up_interrupted_lends_no_connection_in_autocommit(
    board_url: str, opened: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look-up interrupted after its statement (here while its row is read) never gives
    its connection back to the pool as it was then (on PostgreSQL: in autocommit): the next
    transaction still rolls back as a whole."""
    board, store = _board_with(board_url, opened)
    board.close()
    board = SqlBoard.open(board_url, pool_size=1)
    try:
        state = board.store(store.uuid)
        with board.engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            cursor_class = type(driver.cursor())

        def interrupted(self: object) -> None:
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(cursor_class, "fetchone", interrupted)
            with pytest.raises(KeyboardInterrupt):
                voter_and_state(board, store.uuid, "olena")
        with pytest.raises(RuntimeError), board.engine.begin() as conn:
            conn.execute(schema.audits.insert().values(election=store.uuid, hash="a" * 64))
            conn.execute(schema.audits.insert().values(election=store.uuid, hash="b" * 64))
            raise RuntimeError
        with board.engine.connect() as conn:
            assert conn.execute(schema.audits.select()).all() == []
        assert voter_and_state(board, store.uuid, "olena") == (None, state.head(), None)
    finally:
        board.close()


@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
def test_a_look_up_on_a_dropped_connection_fails_once_then_reconnects(
    board_url: str, opened: Record
) -> None:
    """A pooled connection that the database dropped (its socket closed under it, as after
    a PostgreSQL restart) fails the one look-up that meets it with a typed error; the pool
    forgets it and the next look-up reconnects."""
    board, store = _board_with(board_url, opened)
    board.close()
    board = SqlBoard.open(board_url, pool_size=1)
    try:
        add_voters(board, store.uuid, [VoterAccount("olena", "o@x", "c1", "h")])
        assert voter(board, store.uuid, "olena") is not None
        pooled = board.engine.raw_connection()
        fd = pooled.driver_connection.pgconn.socket  # type: ignore[union-attr]
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)
            sock.detach()
        pooled.close()  # back in the pool, dead, without a statement to tell
        with pytest.raises(DatabaseError) as err:
            voter(board, store.uuid, "olena")
        assert err.value.code == "V4010" and "olena" not in str(err.value)
        assert voter(board, store.uuid, "olena") is not None
        state = board.store(store.uuid)
        assert voter_and_state(board, store.uuid, "olena")[1] == state.head()
    finally:
        board.close()


def test_bad_database_urls_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        SqlBoard.open("mysql://x@localhost/db")
    with pytest.raises(UsageError):
        SqlBoard.open("sqlite://")
    with pytest.raises(UsageError):
        SqlBoard.open("not a url")
