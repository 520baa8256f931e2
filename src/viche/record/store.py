"""The election store: what the service layer needs of one election's public record.

The service layer (casting, closing, tallying) talks only to :class:`ElectionStore`, never
to a file path. Implementations:

* the ``.bel`` archive file (:class:`viche.record.archive_store.ArchiveStore` — its
  ballot index is kept beside the archive, checked against it when the store is opened or
  locked and kept up to date on every append, so that adding a ballot costs the same
  whatever the number of ballots, not a re-read of the archive);
* the SQL bulletin board (SQLite by default, PostgreSQL in production), whose ``.bel``
  export is byte for byte what ``belenios-tool`` expects.

Every store keeps the same invariants: the events form one hash chain in the order of
:func:`viche.record.events.next_types`; an append is atomic (all of its data lines and its
event, or nothing) and durable when it returns; an append whose ``expected_head`` is not
the current head is refused with :class:`~viche.errors.RecordError` (another writer came
first), so that "check, then append" is safe under :meth:`ElectionStore.locked`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, runtime_checkable

from viche.record.events import EventType


@dataclass(frozen=True)
class ChainHead:
    """The last event of the chain: its height (Setup is 0), hash and type."""

    height: int
    hash: str
    type: EventType


@dataclass(frozen=True)
class SetupBytes:
    """The exact bytes of the setup members, as they are hashed in the record."""

    timestamp: int
    election: bytes = field(repr=False)
    trustees: bytes = field(repr=False)
    credentials: bytes = field(repr=False)


@dataclass(frozen=True)
class StoredBallot:
    """A Ballot event as the index knows it: its height, the event hash, the ballot's hex
    SHA-256 (the tracker is its base64 form) and the credential that signed it."""

    height: int
    event_hash: str
    hash: str
    credential: str


@runtime_checkable
class ElectionStore(Protocol):
    """One election's public record, indexed for the voting server."""

    @property
    def name(self) -> str:
        """What error locations name (a file path, or ``database / <uuid>``)."""
        ...

    def setup(self) -> SetupBytes:
        """The setup (read once, then kept)."""
        ...

    def head(self) -> ChainHead:
        """The last event (the phase follows from its type)."""
        ...

    def ballot_by_hash(self, ballot_hash: str) -> StoredBallot | None:
        """The Ballot event holding a ballot with this hex SHA-256, if any (replays)."""
        ...

    def last_ballot(self, credential: str) -> StoredBallot | None:
        """The last ballot signed with ``credential`` (re-votes), if any."""
        ...

    def ballot_count(self) -> int:
        """How many Ballot events the record holds (re-votes included)."""
        ...

    def events(self) -> Iterator[tuple[EventType, Sequence[bytes]]]:
        """Every event after Setup in chain order, with its exact payload lines: what
        closing, tallying and decrypting read (O(n), never on the casting path)."""
        ...

    def append(
        self,
        event_type: EventType,
        payload_lines: Sequence[bytes],
        *,
        expected_head: str,
        ballot: StoredBallot | None = None,
    ) -> ChainHead:
        """Append one event with its data lines, atomically and durably, and return the new
        head. ``ballot`` (for Ballot events) carries the index entry's hash and credential;
        its height and event hash are filled in by the store."""
        ...

    def write_archive(self, out: BinaryIO) -> None:
        """The whole record as a ``.bel`` archive, byte for byte what ``belenios-tool``
        reads (at any moment: a consistent snapshot)."""
        ...

    def locked(self) -> AbstractContextManager[None]:
        """Hold the election's write lock (across processes) while checking then
        appending."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class CastingTransaction(Protocol):
    """One hold of the election's write lock and one transaction (:meth:`BatchAppend.
    casting`): what the group commit checks, for a whole batch at once, and its append."""

    @property
    def head(self) -> ChainHead:
        """The chain head when the lock was taken."""
        ...

    @property
    def close_at(self) -> int | None:
        """The scheduled closing time (Unix seconds), if any."""
        ...

    @property
    def found(self) -> tuple[set[str], dict[str, int], set[str]]:
        """Looked up when the lock was taken, for the ``hashes`` and ``credentials`` given
        to :meth:`BatchAppend.casting`: those of ``hashes`` (hex SHA-256 of ballots) that
        were audited (never cast); those already in the record, with their event's height;
        those of ``credentials`` with a ballot in the record already."""
        ...

    def append_ballots(
        self, ballots: Sequence[tuple[bytes, StoredBallot]], *, expected_head: str
    ) -> list[ChainHead]:
        """Append a Ballot event per ``(raw, index entry)``, in order, chained; durable
        when the transaction's block ends, or none written. The heads after each."""
        ...


@runtime_checkable
class BatchAppend(Protocol):
    """A store that checks and appends several Ballot events in one atomic, durable write
    (the SQL board): the voting server's group commit."""

    def casting(
        self, hashes: Sequence[str], credentials: Sequence[str]
    ) -> AbstractContextManager[CastingTransaction]:
        """Take the election's write lock and open one transaction, in which the head, the
        closing time and the batch's audits, replays and re-votes (``hashes`` of its
        ballots, their ``credentials``: :attr:`CastingTransaction.found`) are read; it
        commits when the block ends without an exception, and writes nothing otherwise."""
        ...
