"""The SQL bulletin board: many elections in one database (SQLite or PostgreSQL).

:class:`SqlBoard` is the database (open it with a URL; its Alembic migrations run at once);
:meth:`SqlBoard.store` gives one election's :class:`SqlElectionStore`, an implementation of
:class:`~viche.record.store.ElectionStore`.

Durability and atomicity: an append is one transaction (the event row, its ballot index
entry and the new head in the election row) committed before :meth:`SqlElectionStore.append`
returns. SQLite runs in WAL mode with ``synchronous=FULL`` (a commit is on disk when it
returns); PostgreSQL's commit is durable by default. The head is moved by
``UPDATE … WHERE head_hash = :expected``: of two writers that read the same head only one
succeeds, the other gets :class:`~viche.errors.HeadMovedError` and nothing is written.
:meth:`SqlElectionStore.locked` holds the election's write lock across processes (a
PostgreSQL advisory lock, or an ``flock`` beside the SQLite file), so that "check, then
append" runs once at a time per election.

Export: :meth:`SqlElectionStore.write_archive` writes the ``.bel`` archive from the stored
bytes (header, each event's data lines then the event, every member stamped with the
archive timestamp), up to the head read first: a consistent snapshot at any moment.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    ArchiveFormatError,
    ChainError,
    DatabaseError,
    HeadMovedError,
    Location,
    PhaseError,
    RecordError,
    UnknownElectionError,
    UsageError,
)
from viche.protocol.codec import dumps
from viche.record.entries import DATA_SUFFIX, EVENT_SUFFIX, HEADER_NAME
from viche.record.events import PAYLOAD_LINES, ArchiveHeader, Event, EventType, next_types
from viche.record.sql import schema
from viche.record.store import ChainHead, SetupBytes, StoredBallot
from viche.record.tar import encode_member

_MIGRATIONS = Path(__file__).parent / "migrations"


def engine_url(url: str) -> str:
    """``postgresql://…`` names the psycopg 3 driver; other URLs are kept as they are."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(
            f"not a database URL: {exc}", where=Location(path=("--database",))
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise UsageError(
            f"unsupported database {parsed.drivername!r} (sqlite:///FILE or postgresql://…)",
            where=Location(path=("--database",)),
        )
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
    finally:
        cursor.close()


def migrate(engine: Engine) -> None:
    """Run the Alembic migrations up to the newest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def _join(lines: Sequence[bytes]) -> bytes:
    return b"\n".join(lines)


def _split(blob: bytes) -> list[bytes]:
    return blob.split(b"\n") if blob else []


def _check_line(line: bytes, where: Location) -> bytes:
    if not isinstance(line, bytes) or not line:
        raise ArchiveFormatError("a data line must be non-empty bytes", where=where)
    if b"\n" in line or b"\r" in line:
        raise ArchiveFormatError("a data line contains a line break", where=where)
    return line


def _reason(exc: SQLAlchemyError, password: str | None) -> str:
    """Why the database could not be opened: the driver's error and the last line of its
    first paragraph (``connection refused``, ``role does not exist``), at most 200
    characters, the password never (replaced by ``***`` should the driver quote it)."""
    cause = getattr(exc, "orig", None) or exc
    lines = [part.strip() for part in str(cause).split("\n") if part.strip()]
    detail = lines[0].rpartition(" failed: ")[2] if lines else ""
    if password:
        detail = detail.replace(password, "***")
    name = type(cause).__name__
    return f"{name} ({detail[:200]})" if detail else name


class SqlBoard:
    """The database of the bulletin board: every election, their records and accounts."""

    def __init__(self, engine: Engine, lock_dir: Path | None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: the engine of look-ups outside a write (the same pool). On PostgreSQL their
        #: statements run in autocommit: each sees the committed data when it starts, as in
        #: a READ COMMITTED transaction, without a BEGIN and a ROLLBACK round trip around
        #: it (the cast path's login and phase look-ups: 2 round trips instead of 6). On
        #: SQLite a transaction is what keeps several statements on one snapshot: kept.
        self.reader: Engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else engine
        )
        self._lock_dir = lock_dir
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        #: the statements of :meth:`first_row`, compiled for this database once each (the
        #: statement is kept: its id is never another's meanwhile)
        self._compiled: dict[int, tuple[ClauseElement, str, Sequence[str] | None]] = {}

    @classmethod
    def open(cls, url: str, *, pool_size: int = 8) -> SqlBoard:
        """Connect to ``url`` (``sqlite:///FILE`` or ``postgresql://…``) and migrate."""
        full = engine_url(url)
        lock_dir: Path | None = None
        kwargs: dict[str, Any] = {}
        if full.startswith("sqlite"):
            database = make_url(full).database
            if not database or database == ":memory:":
                raise UsageError(
                    "the SQLite bulletin board needs a file (sqlite:///FILE)",
                    where=Location(path=("--database",)),
                )
            lock_dir = Path(database).parent / (Path(database).name + ".locks")
            kwargs["connect_args"] = {"timeout": 60}
        else:
            # No ping before each checkout (a round trip per look-up on the cast path). A
            # connection the server dropped (a PostgreSQL restart) fails the one request
            # that meets it first (503, V4010); SQLAlchemy then discards every connection
            # made before, so the next requests reconnect. Idle connections are renewed
            # after half an hour (before a firewall or the server forgets them).
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        try:
            engine = create_engine(full, **kwargs)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
                assert lock_dir is not None
                lock_dir.mkdir(parents=True, exist_ok=True)
            migrate(engine)
        except SQLAlchemyError as exc:
            parsed = make_url(full)
            raise DatabaseError(
                f"cannot open the database: {_reason(exc, parsed.password)}",
                where=Location(file=parsed.render_as_string(hide_password=True)),
            ) from None
        except OSError as exc:
            raise DatabaseError(
                f"cannot open the database: {exc.strerror}", where=Location(file=str(lock_dir))
            ) from None
        return cls(engine, lock_dir)

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ elections

    def create_election(
        self,
        timestamp: int,
        election: bytes,
        trustees: bytes,
        credentials: bytes,
        *,
        uuid: str,
        receipt_key: str,
    ) -> SqlElectionStore:
        """Write the Setup event of a new election (its setup data computed here)."""
        where = Location(member=f"database / {uuid}", event=0)
        lines = [
            _check_line(election, where.sub("election")),
            _check_line(trustees, where.sub("trustees")),
            _check_line(credentials, where.sub("credentials")),
        ]
        lines.append(
            dumps(
                {
                    "election": sha256_hex(lines[0]),
                    "trustees": sha256_hex(lines[1]),
                    "credentials": sha256_hex(lines[2]),
                }
            ).encode()
        )
        ArchiveHeader(timestamp=timestamp).to_bytes()  # checks the timestamp fits a tar mtime
        raw = Event(None, 0, EventType.SETUP, sha256_hex(lines[-1])).to_bytes()
        h = sha256_hex(raw)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(schema.elections).values(
                        uuid=uuid,
                        timestamp=timestamp,
                        head_height=0,
                        head_hash=h,
                        head_type=EventType.SETUP.value,
                        receipt_key=receipt_key,
                    )
                )
                conn.execute(
                    insert(schema.events).values(
                        election=uuid,
                        height=0,
                        hash=h,
                        type=EventType.SETUP.value,
                        raw=raw,
                        lines=_join(lines),
                    )
                )
        except IntegrityError:
            raise RecordError(
                "an election with this uuid is already on the board", where=where
            ) from None
        except SQLAlchemyError as exc:
            raise db_error(exc, where) from None
        return self.store(uuid)

    def elections(self) -> list[str]:
        """The uuids of every election, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(schema.elections.c.uuid).order_by(schema.elections.c.timestamp)
            )
            return [r[0] for r in rows]

    def receipt_key(self, uuid: str) -> str:
        """The election's published receipt-signing public key."""
        return str(self._election_field(uuid, schema.elections.c.receipt_key))

    def store(self, uuid: str) -> SqlElectionStore:
        """One election's store (:class:`UnknownElectionError` when there is none)."""
        return SqlElectionStore(
            self, uuid, int(self._election_field(uuid, schema.elections.c.timestamp))
        )

    def _election_field(self, uuid: str, column: Any) -> Any:
        with self._read() as conn:
            value = conn.execute(select(column).where(schema.elections.c.uuid == uuid)).scalar()
        if value is None:
            raise UnknownElectionError("no such election", where=Location(member=uuid))
        return value

    # ------------------------------------------------------------------ helpers

    def first_row(
        self, statement: ClauseElement, values: Mapping[str, Any], where: Location
    ) -> tuple[Any, ...] | None:
        """The first row of ``statement`` (a look-up of the cast path, built once at import
        with SQLAlchemy Core), run outside any transaction like :attr:`reader`'s (one
        snapshot for the statement), or ``None``. The statement is compiled for this
        database once, then run on the pool's DBAPI connection: SQLAlchemy's execution
        (its context, events and result) cost the worker ~0.1 ms of CPU per statement on
        PostgreSQL, five times psycopg's own, and every cast runs such a look-up (its login
        and the voting state: bench/serve_ingest/README.md, pgsql7 and pgc7). The values
        are those SQLAlchemy would bind (strings, integers, ``None``: no type processing)."""
        compiled = self._compiled.get(id(statement))
        if compiled is None or compiled[0] is not statement:
            done = statement.compile(dialect=self.engine.dialect)
            assert isinstance(done, SQLCompiler)
            compiled = self._compiled[id(statement)] = (statement, str(done), done.positiontup)
        _, sql, names = compiled
        params = values if names is None else [values[name] for name in names]
        dbapi: Any = self.engine.dialect.loaded_dbapi
        try:
            pooled = self.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise db_error(exc, where) from None
        driver: Any = pooled.driver_connection
        autocommit = self.dialect == "postgresql"
        try:
            if autocommit:  # no BEGIN and ROLLBACK round trips around the statement
                driver.autocommit = True
            cursor = driver.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
            if autocommit:
                driver.autocommit = False
        except dbapi.Error as exc:
            if getattr(driver, "closed", False) or isinstance(exc, dbapi.OperationalError):
                pooled.invalidate(exc)  # the pool forgets a connection that may be broken
            raise DatabaseError(f"the database failed: {type(exc).__name__}", where=where) from None
        except BaseException:
            # interrupted (a signal, an error of ours): the connection may still be in
            # autocommit, which would make the next transaction on it commit statement by
            # statement; the pool forgets it rather than lending it again
            pooled.invalidate()
            raise
        finally:
            pooled.close()
        return None if row is None else tuple(row)

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise db_error(exc, Location(member="database")) from None

    def thread_lock(self, uuid: str) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(uuid, threading.Lock())

    def lock_path(self, uuid: str) -> Path | None:
        if self._lock_dir is None:
            return None
        return self._lock_dir / (hashlib.sha256(uuid.encode()).hexdigest()[:32] + ".lock")


def db_error(exc: SQLAlchemyError, where: Location) -> DatabaseError:
    """A database failure as a typed error; the message names the driver's error class only
    (its text may quote a statement's parameters)."""
    orig = getattr(exc, "orig", None)
    return DatabaseError(f"the database failed: {type(orig or exc).__name__}", where=where)


class SqlElectionStore:
    """One election on the SQL board (:class:`~viche.record.store.ElectionStore`)."""

    def __init__(self, board: SqlBoard, uuid: str, timestamp: int) -> None:
        self._board = board
        self.uuid = uuid
        self.timestamp = timestamp
        self._setup: SetupBytes | None = None

    @property
    def name(self) -> str:
        return f"database / {self.uuid}"

    @property
    def _where(self) -> Location:
        return Location(member=self.name)

    def setup(self) -> SetupBytes:
        if self._setup is None:
            with self._board._read() as conn:
                blob = conn.execute(
                    select(schema.events.c.lines).where(
                        schema.events.c.election == self.uuid, schema.events.c.height == 0
                    )
                ).scalar_one()
            lines = _split(blob)
            self._setup = SetupBytes(self.timestamp, lines[0], lines[1], lines[2])
        return self._setup

    def head(self) -> ChainHead:
        with self._board._read() as conn:
            return self._head(conn)

    def _head(self, conn: Connection) -> ChainHead:
        e = schema.elections.c
        row = conn.execute(
            select(e.head_height, e.head_hash, e.head_type).where(e.uuid == self.uuid)
        ).one()
        return ChainHead(int(row[0]), str(row[1]), EventType(row[2]))

    def _ballot(self, *conditions: Any) -> StoredBallot | None:
        b, ev = schema.ballots.c, schema.events.c
        with self._board._read() as conn:
            row = conn.execute(
                select(b.height, ev.hash, b.hash, b.credential)
                .join(
                    schema.events,
                    (ev.election == b.election) & (ev.height == b.height),
                )
                .where(b.election == self.uuid, *conditions)
                .order_by(b.height.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return StoredBallot(int(row[0]), str(row[1]), str(row[2]), str(row[3]))

    def ballot_by_hash(self, ballot_hash: str) -> StoredBallot | None:
        return self._ballot(schema.ballots.c.hash == ballot_hash)

    def last_ballot(self, credential: str) -> StoredBallot | None:
        b = schema.ballots.c
        return self._ballot(
            b.credential_sha256 == schema.credential_sha256(credential),
            b.credential == credential,
        )

    def ballots(self, after: int, limit: int) -> list[StoredBallot]:
        """The Ballot events above height ``after``, lowest first, at most ``limit``."""
        b, ev = schema.ballots.c, schema.events.c
        with self._board._read() as conn:
            rows = conn.execute(
                select(b.height, ev.hash, b.hash, b.credential)
                .join(schema.events, (ev.election == b.election) & (ev.height == b.height))
                .where(b.election == self.uuid, b.height > after)
                .order_by(b.height)
                .limit(limit)
            ).all()
        return [StoredBallot(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def ballot_count(self) -> int:
        b = schema.ballots.c
        with self._board._read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(schema.ballots).where(b.election == self.uuid)
                ).scalar_one()
            )

    def _rows(self, first: int, last: int) -> Iterator[tuple[int, str, str, bytes, bytes]]:
        """Events ``first..last`` (heights, inclusive) in order, fetched in batches."""
        ev = schema.events.c
        batch = 500
        start = first
        while start <= last:
            end = min(last, start + batch - 1)
            with self._board._read() as conn:
                rows = conn.execute(
                    select(ev.height, ev.hash, ev.type, ev.raw, ev.lines)
                    .where(ev.election == self.uuid, ev.height >= start, ev.height <= end)
                    .order_by(ev.height)
                ).all()
            if len(rows) != end - start + 1:
                raise ChainError(
                    "an event is missing from the database", where=self._where.at(event=start)
                )
            for r in rows:
                yield int(r[0]), str(r[1]), str(r[2]), bytes(r[3]), bytes(r[4])
            start = end + 1

    def events(self) -> Iterator[tuple[EventType, Sequence[bytes]]]:
        last = self.head().height
        for _, _, etype, _, lines in self._rows(1, last):
            yield EventType(etype), _split(lines)

    def chain(self, first: int, last: int) -> list[tuple[int, str, EventType]]:
        """Heights, hashes and types of the events ``first..last`` (inclusive)."""
        ev = schema.events.c
        with self._board._read() as conn:
            rows = conn.execute(
                select(ev.height, ev.hash, ev.type)
                .where(ev.election == self.uuid, ev.height >= first, ev.height <= last)
                .order_by(ev.height)
            ).all()
        return [(int(r[0]), str(r[1]), EventType(r[2])) for r in rows]

    def event_lines(self, height: int) -> tuple[EventType, list[bytes]]:
        """One event's type and data lines."""
        ev = schema.events.c
        with self._board._read() as conn:
            row = conn.execute(
                select(ev.type, ev.lines).where(ev.election == self.uuid, ev.height == height)
            ).first()
        if row is None:
            raise ChainError("no event at this height", where=self._where.at(event=height))
        return EventType(row[0]), _split(bytes(row[1]))

    def data_member(self, member_hash: str) -> bytes | None:
        """The data line or event whose SHA-256 is ``member_hash`` (every public object
        under its hash), or ``None``."""
        b, ev = schema.ballots.c, schema.events.c
        with self._board._read() as conn:
            row = conn.execute(
                select(ev.lines)
                .join(schema.ballots, (b.election == ev.election) & (b.height == ev.height))
                .where(b.election == self.uuid, b.hash == member_hash)
            ).first()
            if row is not None:
                return bytes(row[0])
            row = conn.execute(
                select(ev.raw).where(ev.election == self.uuid, ev.hash == member_hash)
            ).first()
            if row is not None:
                return bytes(row[0])
            others = conn.execute(
                select(ev.lines).where(ev.election == self.uuid, ev.type != EventType.BALLOT.value)
            ).all()
        for (blob,) in others:
            for line in _split(bytes(blob)):
                if sha256_hex(line) == member_hash:
                    return line
        return None

    def append(
        self,
        event_type: EventType,
        payload_lines: Sequence[bytes],
        *,
        expected_head: str,
        ballot: StoredBallot | None = None,
    ) -> ChainHead:
        return self._append_all([(event_type, list(payload_lines), ballot)], expected_head)[0]

    def _append_all(
        self,
        events: Sequence[tuple[EventType, list[bytes], StoredBallot | None]],
        expected_head: str,
    ) -> list[ChainHead]:
        try:
            with self._board.engine.begin() as conn:
                return self._append_in(conn, self._head(conn), events, expected_head)
        except IntegrityError:
            raise RecordError(
                "the database refused the event (a ballot with this hash is already indexed)",
                where=self._where,
            ) from None
        except SQLAlchemyError as exc:
            raise db_error(exc, self._where) from None

    def _append_in(
        self,
        conn: Connection,
        head: ChainHead,
        events: Sequence[tuple[EventType, list[bytes], StoredBallot | None]],
        expected_head: str,
    ) -> list[ChainHead]:
        """Append ``events`` after ``head`` (just read on ``conn``) in ``conn``'s
        transaction: each event row and index entry, then the head moved once, by
        ``UPDATE … WHERE head_hash = :expected`` (a writer that came first refuses it)."""
        rows, index, heads = self._new_rows(head, events, expected_head)
        if not heads:
            return heads
        last = heads[-1]
        moved = conn.execute(
            _MOVE_HEAD,
            {
                "election": self.uuid,
                "expected": expected_head,
                "new_height": last.height,
                "new_hash": last.hash,
                "new_type": last.type.value,
            },
        )
        if moved.rowcount != 1:
            raise self._head_moved(heads[0].height)
        conn.execute(_INSERT_EVENTS, rows)
        if index:
            conn.execute(_INSERT_BALLOTS, index)
        return heads

    def _head_moved(self, height: int) -> HeadMovedError:
        return HeadMovedError(
            "the chain head moved since it was read (another writer came first)",
            where=self._where.at(event=height),
        )

    def _new_rows(
        self,
        head: ChainHead,
        events: Sequence[tuple[EventType, list[bytes], StoredBallot | None]],
        expected_head: str,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[ChainHead]]:
        """The event rows and index entries of ``events`` chained after ``head``, and the
        head after each (``expected_head`` must be ``head``)."""
        if head.hash != expected_head:
            raise self._head_moved(head.height + 1)
        rows: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        heads: list[ChainHead] = []
        for event_type, lines, ballot in events:
            head, row = self._event_row(head, event_type, lines, ballot)
            rows.append(row)
            if ballot is not None:
                index.append(
                    {
                        "election": self.uuid,
                        "height": head.height,
                        "hash": ballot.hash,
                        "credential": ballot.credential,
                        "credential_sha256": schema.credential_sha256(ballot.credential),
                    }
                )
            heads.append(head)
        return rows, index, heads

    def _event_row(
        self,
        head: ChainHead,
        event_type: EventType,
        lines: list[bytes],
        ballot: StoredBallot | None,
    ) -> tuple[ChainHead, dict[str, Any]]:
        """The event chained after ``head`` (checked: type, data lines, index entry) and
        its row."""
        where = self._where.at(event=head.height + 1)
        if event_type not in next_types(head.type):
            raise PhaseError(
                f"a {event_type.value} event cannot follow {head.type.value}",
                where=where,
            )
        if len(lines) != PAYLOAD_LINES[event_type]:
            raise ArchiveFormatError(
                f"a {event_type.value} event takes {PAYLOAD_LINES[event_type]} data "
                f"line(s), got {len(lines)}",
                where=where,
            )
        for i, line in enumerate(lines):
            _check_line(line, where.sub(f"line {i + 1}"))
        if (ballot is not None) != (event_type is EventType.BALLOT):
            raise ArchiveFormatError(
                "a Ballot event, and only one, carries its index entry", where=where
            )
        height = head.height + 1
        raw = Event(
            head.hash, height, event_type, sha256_hex(lines[-1]) if lines else None
        ).to_bytes()
        h = sha256_hex(raw)
        row = {
            "election": self.uuid,
            "height": height,
            "hash": h,
            "type": event_type.value,
            "raw": raw,
            "lines": _join(lines),
        }
        return ChainHead(height, h, event_type), row

    def write_archive(self, out: BinaryIO) -> None:
        last = self.head().height
        stamp = self.timestamp
        out.write(encode_member(HEADER_NAME, ArchiveHeader(timestamp=stamp).to_bytes(), stamp))
        for _, h, _, raw, blob in self._rows(0, last):
            chunk = bytearray()
            for line in _split(blob):
                chunk += encode_member(sha256_hex(line) + DATA_SUFFIX, line, stamp)
            chunk += encode_member(h + EVENT_SUFFIX, raw, stamp)
            out.write(chunk)

    def locked(self) -> AbstractContextManager[None]:
        return self._lock()

    @contextlib.contextmanager
    def casting(
        self, hashes: Sequence[str], credentials: Sequence[str]
    ) -> Iterator[CastingTransaction | PgCastingTransaction]:
        """Hold the election's write lock and one transaction on one connection: the
        voting server's group commit reads what it checks (head, closing time, and for the
        batch's ``hashes`` and ``credentials``: audits, replays, re-votes) and appends, then
        the transaction commits when the block ends without an exception (rolled back
        otherwise: nothing written). On PostgreSQL the lock is a transaction-level advisory
        lock on the same key as :meth:`locked` (released by the commit), and the statements
        go in psycopg's pipeline mode (:class:`PgCastingTransaction`: 2 round trips under
        the lock instead of 8); on SQLite the same ``flock`` as :meth:`locked`, and the
        statements run on the pool's sqlite3 connection (:class:`CastingTransaction`)."""
        with self._board.thread_lock(self.uuid), contextlib.ExitStack() as stack:
            if self._board.dialect == "postgresql":
                try:
                    conn = stack.enter_context(self._board.engine.connect())
                except SQLAlchemyError as exc:
                    raise db_error(exc, self._where) from None
                with PgCastingTransaction.open(self, conn, hashes, credentials) as pg:
                    yield pg
                return
            stack.enter_context(self._flock())
            with CastingTransaction.open(self, hashes, credentials) as tx:
                yield tx

    def _refused(self) -> RecordError:
        return RecordError(
            "the database refused the event (a ballot with this hash is already indexed)",
            where=self._where,
        )

    @property
    def _key(self) -> int:
        digest = hashlib.sha256(self.uuid.encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        path = self._board.lock_path(self.uuid)
        assert path is not None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseError(
                f"cannot open the lock file: {exc.strerror}", where=Location(file=str(path))
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with self._board.thread_lock(self.uuid):
            if self._board.dialect == "postgresql":
                key = self._key
                try:
                    conn = self._board.engine.connect()
                    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                except SQLAlchemyError as exc:
                    raise db_error(exc, self._where) from None
                try:
                    yield
                finally:
                    with contextlib.suppress(SQLAlchemyError):
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        conn.rollback()
                    conn.close()
                return
            with self._flock():
                yield

    def close(self) -> None:
        """Nothing to release: connections belong to the board's pool."""


# The statements of the cast path, built once (building a statement costs more CPU than
# running it: SQLAlchemy coerces every clause on each construction); the values are bound
# at each execution.
_e, _s, _a, _b = schema.elections.c, schema.schedules.c, schema.audits.c, schema.ballots.c
_VOTING_STATE = (
    select(_e.head_height, _e.head_hash, _e.head_type, _s.close_at)
    .select_from(schema.elections.outerjoin(schema.schedules, _s.election == _e.uuid))
    .where(_e.uuid == bindparam("uuid"))
)

#: the head moved from ``expected`` (no row updated: another writer came first)
_MOVE_HEAD = (
    update(schema.elections)
    .where(_e.uuid == bindparam("election"), _e.head_hash == bindparam("expected"))
    .values(
        head_height=bindparam("new_height"),
        head_hash=bindparam("new_hash"),
        head_type=bindparam("new_type"),
    )
)
_INSERT_EVENTS = insert(schema.events)
_INSERT_BALLOTS = insert(schema.ballots)


def state_of(row: Sequence[Any]) -> tuple[ChainHead, int | None]:
    """A row of :data:`_VOTING_STATE` (or the first four columns of the cast's login
    look-up, :func:`viche.record.sql.accounts.voter_and_state`) as (head, closing time)."""
    close_at = None if row[3] is None else int(row[3])
    return ChainHead(int(row[0]), str(row[1]), EventType(row[2])), close_at


# The group commit's statements on SQLite, for the sqlite3 driver (its own placeholders):
# the same questions and writes as _VOTING_STATE, _MOVE_HEAD, _INSERT_EVENTS and
# _INSERT_BALLOTS, run without SQLAlchemy's execution (its context, events and result:
# ~0.1 ms of the worker's CPU per statement, four to five statements per commit).
_SQLITE_VOTING_STATE = (
    "SELECT e.head_height, e.head_hash, e.head_type, s.close_at FROM elections e"
    " LEFT OUTER JOIN schedules s ON s.election = e.uuid WHERE e.uuid = ?"
)
_SQLITE_MOVE_HEAD = (
    "UPDATE elections SET head_height = :new_height, head_hash = :new_hash,"
    " head_type = :new_type WHERE uuid = :election AND head_hash = :expected"
)
_SQLITE_INSERT_EVENT = (
    "INSERT INTO events (election, height, hash, type, raw, lines)"
    " VALUES (:election, :height, :hash, :type, :raw, :lines)"
)
_SQLITE_INSERT_BALLOT = (
    "INSERT INTO ballots (election, height, hash, credential, credential_sha256)"
    " VALUES (:election, :height, :hash, :credential, :credential_sha256)"
)


@functools.lru_cache(maxsize=256)
def _sqlite_look_up(hashes: int, credentials: int) -> str:
    """The batch's look-up on SQLite for ``hashes`` distinct ballot hashes and
    ``credentials`` distinct credentials (rows: kind, key, height; as
    :data:`_PG_STATE_AND_LOOK_UP`'s): audited ('a'), recorded ('r', with the height),
    voted ('v'). Its values: :func:`_sqlite_look_up_values`. SQLite's planner takes the
    index with the most equality columns: ``ballots_by_hash`` and
    ``ballots_by_credential_sha256`` (bench/serve_ingest/README.md, pgix7)."""
    h = ", ".join("?" * hashes)
    c = ", ".join("?" * credentials)
    return (
        f"SELECT 'a', hash, NULL FROM audits WHERE election = ? AND hash IN ({h})"  # noqa: S608 (placeholders only)
        f" UNION ALL SELECT 'r', hash, height FROM ballots WHERE election = ? AND hash IN ({h})"
        f" UNION ALL SELECT 'v', credential, NULL FROM ballots"
        f" WHERE credential_sha256 IN ({c}) AND election = ? AND credential IN ({c})"
    )


def _sqlite_look_up_values(values: Mapping[str, Any]) -> list[Any]:
    """:func:`_look_up_values` in the order of :func:`_sqlite_look_up`'s placeholders."""
    uuid, hashes = values["uuid"], values["hashes"]
    return [
        uuid, *hashes, uuid, *hashes,
        *values["credential_hashes"], uuid, *values["credentials"],
    ]  # fmt: skip


class CastingTransaction:
    """The group commit's transaction on SQLite (:meth:`SqlElectionStore.casting`, under
    the election's ``flock``), on the pool's sqlite3 connection: the head and the closing
    time, then one look-up for the whole batch, then the writes and the COMMIT (the
    driver's own transaction handling, as through SQLAlchemy: the reads run before it, the
    first write begins it)."""

    def __init__(
        self, store: SqlElectionStore, cursor: Any, head: ChainHead, close_at: int | None
    ) -> None:
        self._store = store
        self._cursor = cursor
        #: the chain head when the lock was taken
        self.head = head
        #: the scheduled closing time (Unix seconds), if any
        self.close_at = close_at
        #: the batch's audits, replays and re-votes (:meth:`look_up`)
        self.found: tuple[set[str], dict[str, int], set[str]] = (set(), {}, set())

    @classmethod
    @contextlib.contextmanager
    def open(
        cls, store: SqlElectionStore, hashes: Sequence[str], credentials: Sequence[str]
    ) -> Iterator[CastingTransaction]:
        """The transaction on a connection of the pool, committed when the block ends
        without an exception (rolled back otherwise: nothing written)."""
        import sqlite3

        try:
            pooled = store._board.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise db_error(exc, store._where) from None
        driver: Any = pooled.driver_connection
        try:
            cursor = driver.cursor()
            try:
                cursor.execute(_SQLITE_VOTING_STATE, (store.uuid,))
                row = cursor.fetchone()
                if row is None:
                    raise DatabaseError("the election is not on the board", where=store._where)
                head, close_at = state_of(row)
                tx = cls(store, cursor, head, close_at)
                tx.look_up(hashes, credentials)
                yield tx
            finally:
                cursor.close()
            driver.commit()
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                driver.rollback()
            if isinstance(exc, sqlite3.IntegrityError):
                raise store._refused() from None
            raise DatabaseError(
                f"the database failed: {type(exc).__name__}", where=store._where
            ) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                driver.rollback()
            raise
        finally:
            pooled.close()

    def look_up(self, hashes: Sequence[str], credentials: Sequence[str]) -> None:
        """:attr:`found`, in one statement: those of ``hashes`` (hex SHA-256 of ballots)
        that the booth audited; those already in the record, with the height of their
        event; those of ``credentials`` that already signed a ballot in the record."""
        values = _look_up_values(self._store.uuid, hashes, credentials)
        self._cursor.execute(
            _sqlite_look_up(len(values["hashes"]), len(values["credentials"])),
            _sqlite_look_up_values(values),
        )
        self.found = _found(self._cursor.fetchall())

    def append_ballots(
        self, ballots: Sequence[tuple[bytes, StoredBallot]], *, expected_head: str
    ) -> list[ChainHead]:
        """As :meth:`SqlElectionStore.append_ballots`, in this transaction (durable when
        the ``casting`` block has ended): the head moved, by ``UPDATE … WHERE head_hash =
        :expected`` (checked by its row count), then each event row and index entry."""
        store = self._store
        rows, index, heads = store._new_rows(
            self.head,
            [(EventType.BALLOT, [raw], ballot) for raw, ballot in ballots],
            expected_head,
        )
        if not heads:
            return heads
        last = heads[-1]
        cur = self._cursor
        cur.execute(
            _SQLITE_MOVE_HEAD,
            {
                "election": store.uuid,
                "expected": expected_head,
                "new_height": last.height,
                "new_hash": last.hash,
                "new_type": last.type.value,
            },
        )
        if cur.rowcount != 1:
            raise store._head_moved(heads[0].height)
        cur.executemany(_SQLITE_INSERT_EVENT, rows)
        cur.executemany(_SQLITE_INSERT_BALLOT, index)
        self.head = last
        return heads


def _look_up_values(uuid: str, hashes: Sequence[str], credentials: Sequence[str]) -> dict[str, Any]:
    """The values of a batch's look-up (:data:`_LOOK_UP`, :data:`_PG_STATE_AND_LOOK_UP`):
    its ballots' hashes, its credentials and their digests (the re-vote index's key)."""
    distinct = sorted(set(credentials))
    return {
        "uuid": uuid,
        "hashes": sorted(set(hashes)),
        "credentials": distinct,
        "credential_hashes": [schema.credential_sha256(c) for c in distinct],
    }


def _found(rows: Iterable[Any]) -> tuple[set[str], dict[str, int], set[str]]:
    """The rows of a look-up (kind, key, height) as (audited, recorded, voted)."""
    audited: set[str] = set()
    recorded: dict[str, int] = {}
    voted: set[str] = set()
    for kind, key, height in rows:
        if kind == "a":
            audited.add(str(key))
        elif kind == "r":
            recorded[str(key)] = int(height)
        else:
            voted.add(str(key))
    return audited, recorded, voted


# The group commit's statements on PostgreSQL, for psycopg's pipeline mode (the driver's
# own placeholders; the tables are found on the connection's search_path, as SQLAlchemy's
# statements are). The same questions as _VOTING_STATE and _LOOK_UP.
_PG_LOCK = "SELECT pg_advisory_xact_lock(%(key)s)"
#: the head, the closing time and the batch's look-up in one statement (one snapshot, taken
#: after the lock was granted): a row ('s', head_hash, head_height, head_type, close_at),
#: then a row per audited ('a', hash), recorded ('r', hash, height) and voted ('v',
#: credential). The ballots are found by their hash or their credential's digest alone, in
#: a subquery that ``OFFSET 0`` keeps whole (the planner pushes no condition into it): the
#: index that leads with that key is its only index (``ballots_by_hash``,
#: ``ballots_by_credential_sha256``); the election and the credential itself are compared
#: on the rows found. Given ``election = …`` as well, a planner without statistics (a new
#: election's first hundreds of ballots) took any index by the election and filtered every
#: ballot of the election (bench/serve_ingest/README.md, pgsql7 and pgix7).
_PG_STATE_AND_LOOK_UP = (
    "SELECT 's', e.head_hash, e.head_height, e.head_type, s.close_at FROM elections e"
    " LEFT OUTER JOIN schedules s ON s.election = e.uuid WHERE e.uuid = %(uuid)s"
    " UNION ALL SELECT 'a', hash, NULL, NULL, NULL FROM audits"
    " WHERE election = %(uuid)s AND hash = ANY(%(hashes)s)"
    " UNION ALL SELECT 'r', hash, height, NULL, NULL FROM (SELECT election, hash, height"
    " FROM ballots WHERE hash = ANY(%(hashes)s) OFFSET 0) r WHERE election = %(uuid)s"
    " UNION ALL SELECT 'v', credential, NULL, NULL, NULL FROM (SELECT election, credential"
    " FROM ballots WHERE credential_sha256 = ANY(%(credential_hashes)s) OFFSET 0) v"
    " WHERE election = %(uuid)s AND credential = ANY(%(credentials)s)"
)
#: the head moved, in one statement that fails (division by zero) unless the UPDATE
#: matched the expected head (another writer came first): the COMMIT queued after it must
#: not run
_PG_MOVE_HEAD = (
    "WITH moved AS (UPDATE elections SET head_height = %(height)s, head_hash = %(hash)s,"
    " head_type = %(type)s WHERE uuid = %(uuid)s AND head_hash = %(expected)s RETURNING 1)"
    " SELECT 1 / count(*) FROM moved"
)
#: a Ballot event and its index entry, in one statement
_PG_INSERT_BALLOT_EVENT = (
    "WITH event AS (INSERT INTO events (election, height, hash, type, raw, lines)"
    " VALUES (%(election)s, %(height)s, %(event_hash)s, %(type)s, %(raw)s, %(lines)s))"
    " INSERT INTO ballots (election, height, hash, credential, credential_sha256)"
    " VALUES (%(election)s, %(height)s, %(hash)s, %(credential)s, %(credential_sha256)s)"
)


class PgCastingTransaction:
    """The group commit's transaction on PostgreSQL, in psycopg's pipeline mode: the
    statements of a step are sent together and the answers read together, so that the
    committing thread and the backend wake up once per step rather than once per statement
    (each wake-up waits for a core and, in the server, for the GIL that the checks hold).
    Two round trips under the lock: (BEGIN, advisory lock, one statement for the head,
    the closing time and the batch's look-up), then (the head's UPDATE and its check in
    one statement, one INSERT per ballot for its event and its index entry, COMMIT), the
    second answered after the COMMIT's WAL flush (``synchronous_commit`` is untouched: the
    answer still comes after the flush). Each statement runs after the one before it on
    the backend, so the look-up sees the data committed before the lock was granted (READ
    COMMITTED: a snapshot per statement). A statement that fails makes the backend skip
    the rest of its round trip, the COMMIT included: nothing is written. The head's move
    is checked by a statement that fails (division by zero) when the UPDATE did not match
    the expected head, as the SQLite path checks the UPDATE's row count, since the COMMIT
    is sent before any answer is read. (Each statement costs the backend CPU: 5 + one per
    ballot per commit, 7 + two per ballot before.)"""

    def __init__(self, store: SqlElectionStore, driver: Any) -> None:
        self._store = store
        self._driver = driver
        self.head = ChainHead(0, "", EventType.SETUP)
        self.close_at: int | None = None
        self.found: tuple[set[str], dict[str, int], set[str]] = (set(), {}, set())
        #: the height of the first event appended (to name it if the head had moved)
        self._first = 0

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        store: SqlElectionStore,
        conn: Connection,
        hashes: Sequence[str],
        credentials: Sequence[str],
    ) -> Iterator[PgCastingTransaction]:
        """The transaction on ``conn`` (a connection of the pool, not used through
        SQLAlchemy meanwhile), committed when the block ends without an exception."""
        import psycopg

        driver: Any = conn.connection.driver_connection
        tx = cls(store, driver)
        try:
            with driver.cursor() as lock, driver.cursor() as look:
                with driver.pipeline():  # one Sync when the block ends: one round trip
                    lock.execute(_PG_LOCK, {"key": store._key})
                    look.execute(
                        _PG_STATE_AND_LOOK_UP, _look_up_values(store.uuid, hashes, credentials)
                    )
                rows = look.fetchall()
            state = [row for row in rows if row[0] == "s"]
            if not state:
                raise DatabaseError("the election is not on the board", where=store._where)
            _, head_hash, height, head_type, close_at = state[0]
            tx.head = ChainHead(int(height), str(head_hash), EventType(head_type))
            tx.close_at = None if close_at is None else int(close_at)
            tx.found = _found(row[:3] for row in rows if row[0] != "s")
            with driver.pipeline(), driver.cursor() as end:
                yield tx  # append_ballots queues its writes
                # queued after them, sent with them by the block's one Sync (the driver's
                # commit() would sync once more: a second round trip)
                end.execute("COMMIT")
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                driver.rollback()
            if driver.closed or isinstance(exc, psycopg.OperationalError):
                conn.invalidate()  # the pool forgets a connection that may be broken
            if isinstance(exc, psycopg.errors.DivisionByZero):  # _PG_MOVE_HEAD
                raise store._head_moved(tx._first) from None
            if isinstance(exc, psycopg.IntegrityError):
                raise store._refused() from None
            raise DatabaseError(
                f"the database failed: {type(exc).__name__}", where=store._where
            ) from None
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                driver.rollback()
            raise

    def append_ballots(
        self, ballots: Sequence[tuple[bytes, StoredBallot]], *, expected_head: str
    ) -> list[ChainHead]:
        """As :meth:`CastingTransaction.append_ballots`; the writes are sent with the
        COMMIT when the ``casting`` block ends (their errors are raised there)."""
        store = self._store
        rows, index, heads = store._new_rows(
            self.head,
            [(EventType.BALLOT, [raw], ballot) for raw, ballot in ballots],
            expected_head,
        )
        if not heads:
            return heads
        last = heads[-1]
        with self._driver.cursor() as cur:
            cur.execute(
                _PG_MOVE_HEAD,
                {
                    "height": last.height,
                    "hash": last.hash,
                    "type": last.type.value,
                    "uuid": store.uuid,
                    "expected": expected_head,
                },
            )
            cur.executemany(
                _PG_INSERT_BALLOT_EVENT,
                [
                    {**row, "event_hash": row["hash"], "hash": entry["hash"],
                     "credential": entry["credential"],
                     "credential_sha256": entry["credential_sha256"]}
                    for row, entry in zip(rows, index, strict=True)
                ],
            )  # fmt: skip
        self._first = heads[0].height
        self.head = last
        return heads
