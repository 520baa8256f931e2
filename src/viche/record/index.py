"""The ballot index of a ``.bel`` archive: a SQLite cache, never the source of truth.

It holds what the casting path asks of an archive without reading it: every ballot's hash,
height, event hash, credential and the byte offset of its data member, plus the archive's
state when it was last brought up to date (:class:`IndexedHead`: size, member count, the
last event's hash, height, type and offset, and the Setup event's hash).

:class:`~viche.record.archive_store.ArchiveStore` checks that state against the archive
every time it takes the lock (the last event is read back at its offset and re-hashed; the
setup is read and checked in full on open), extends the index from the indexed size when
the archive grew, and rebuilds it when anything does not match. Beside ``uuid.bel`` it is
``uuid.bel.index``; when that file cannot be written (a read-only directory) the index
lives in memory for the life of the store.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from viche.record.events import EventType

#: Bumped whenever the schema or the meaning of a column changes (old indexes are rebuilt).
SCHEMA_VERSION = 1
INDEX_SUFFIX = ".index"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    setup_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    members INTEGER NOT NULL,
    hash TEXT NOT NULL,
    height INTEGER NOT NULL,
    type TEXT NOT NULL,
    offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ballots (
    height INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    event_hash TEXT NOT NULL,
    credential TEXT NOT NULL,
    offset INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ballots_by_hash ON ballots (hash, height);
CREATE INDEX IF NOT EXISTS ballots_by_credential ON ballots (credential, height);
"""


@dataclass(frozen=True)
class IndexedHead:
    """The archive as the index last saw it."""

    setup_hash: str
    size: int
    members: int
    hash: str
    height: int
    type: EventType
    offset: int


@dataclass(frozen=True)
class IndexedBallot:
    """One Ballot event: height, event hash, ballot hash, credential, data member offset."""

    height: int
    event_hash: str
    hash: str
    credential: str
    offset: int


class UnusableIndexError(Exception):
    """The index file cannot be used (SQLite or the file system failed); the store falls
    back to an index in memory."""


class BallotIndex:
    """The SQLite tables; every method is one statement or one transaction."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def beside(cls, archive: Path) -> BallotIndex:
        """The index file next to ``archive``, or an index in memory when it cannot be
        opened."""
        path = archive.with_name(archive.name + INDEX_SUFFIX)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.executescript(_SCHEMA)
            except sqlite3.Error:
                conn.close()
                raise
        except sqlite3.Error:
            # Unreadable, corrupt or unwritable: start afresh, else keep it in memory.
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            try:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                conn.executescript(_SCHEMA)
            except sqlite3.Error:
                return cls.memory()
        return cls(conn, path)

    @classmethod
    def memory(cls) -> BallotIndex:
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return cls(conn, None)

    def close(self) -> None:
        self._conn.close()

    # -- reading

    def head(self) -> IndexedHead | None:
        try:
            row = self._conn.execute(
                "SELECT version, setup_hash, size, members, hash, height, type, offset "
                "FROM head WHERE id = 1"
            ).fetchone()
        except sqlite3.Error as exc:
            raise UnusableIndexError(str(exc)) from exc
        if row is None or row[0] != SCHEMA_VERSION:
            return None
        try:
            etype = EventType(row[6])
        except ValueError:
            return None
        return IndexedHead(row[1], row[2], row[3], row[4], row[5], etype, row[7])

    def _ballot(self, sql: str, key: str) -> IndexedBallot | None:
        try:
            row = self._conn.execute(sql, (key,)).fetchone()
        except sqlite3.Error as exc:
            raise UnusableIndexError(str(exc)) from exc
        return None if row is None else IndexedBallot(*row)

    def by_hash(self, ballot_hash: str) -> IndexedBallot | None:
        """The first Ballot event holding this ballot."""
        return self._ballot(
            "SELECT height, event_hash, hash, credential, offset FROM ballots "
            "WHERE hash = ? ORDER BY height LIMIT 1",
            ballot_hash,
        )

    def last_for(self, credential: str) -> IndexedBallot | None:
        """The last Ballot event signed with this credential."""
        return self._ballot(
            "SELECT height, event_hash, hash, credential, offset FROM ballots "
            "WHERE credential = ? ORDER BY height DESC LIMIT 1",
            credential,
        )

    def count(self) -> int:
        try:
            return int(self._conn.execute("SELECT count(*) FROM ballots").fetchone()[0])
        except sqlite3.Error as exc:
            raise UnusableIndexError(str(exc)) from exc

    # -- writing

    def update(
        self, head: IndexedHead, ballots: Iterable[IndexedBallot], *, reset: bool = False
    ) -> None:
        """Add ``ballots`` and move the head, in one transaction (``reset``: forget
        everything first)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if reset:
                    conn.execute("DELETE FROM ballots")
                conn.executemany(
                    "INSERT OR REPLACE INTO ballots (height, event_hash, hash, credential, "
                    "offset) VALUES (?, ?, ?, ?, ?)",
                    ((b.height, b.event_hash, b.hash, b.credential, b.offset) for b in ballots),
                )
                conn.execute(
                    "INSERT OR REPLACE INTO head (id, version, setup_hash, size, members, hash, "
                    "height, type, offset) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        SCHEMA_VERSION,
                        head.setup_hash,
                        head.size,
                        head.members,
                        head.hash,
                        head.height,
                        head.type.value,
                        head.offset,
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise UnusableIndexError(str(exc)) from exc
