"""The rules of the event chain (spec 4.4, FORMAT.md §1), shared by the reader, the writer
and the stores.

Before each event come exactly the data lines that belenios writes for it
(:data:`~viche.record.events.PAYLOAD_LINES`), the last one being the payload. A payload is
written again before every event that uses it: an event that points back at an earlier copy
is rejected, as ``belenios-tool election verify`` does.

* :class:`ChainState` — the incremental checker: data members, then an event; it keeps only
  the last event (hash, height, type, offset, member index) and the pending data lines.
* :func:`check_members` — tar members (:func:`viche.record.tar.iter_members`) to checked
  :class:`~viche.record.entries.RecordEvent` values: member names, hashes, mtimes, chain.
* :func:`owned_owner` — the owner of an ``owned`` line (Shuffle, PartialDecryption), which
  must name the data member written just before it.
* :func:`check_line` — a payload line the writer may store.

Errors: :class:`~viche.errors.ArchiveFormatError` (member names, mtime),
:class:`~viche.errors.HashMismatchError` (a name that is not the SHA-256 of the content),
:class:`~viche.errors.ChainError` (parent, height, payload references, stray data),
:class:`~viche.errors.PhaseError` (event order); ``where`` gives the byte offset, member
name and, for events, the height.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from viche.crypto.hashing import is_sha256_hex, sha256_hex
from viche.errors import (
    ArchiveFormatError,
    ChainError,
    HashMismatchError,
    JsonFormatError,
    Location,
    NonCanonicalError,
    PhaseError,
)
from viche.protocol.codec import get_str, loads
from viche.protocol.election import SetupData
from viche.protocol.tally import Owned
from viche.record.entries import (
    DATA_SUFFIX,
    EVENT_SUFFIX,
    DataMember,
    RecordEvent,
    event_location,
)
from viche.record.events import PAYLOAD_LINES, Event, EventType, next_types
from viche.record.tar import TarMember

_SETUP_KEYS = ("election", "trustees", "credentials")


def _ref(raw: bytes, key: str, where: Location) -> str:
    obj = loads(raw, where)
    if not isinstance(obj, dict) or key not in obj:
        raise ChainError(f"expected an object with a {key!r} reference", where=where)
    value = get_str(obj, key, where)
    if not is_sha256_hex(value):
        raise ChainError(f"{key} {value!r} is not a lower-case hex SHA-256", where=where)
    return value


def _check_setup_data(lines: list[DataMember], where: Location) -> None:
    setup = SetupData.from_bytes(lines[3].raw, where)  # canonical form included
    for key, member in zip(_SETUP_KEYS, lines[:3], strict=True):
        if getattr(setup, key) != member.hash:
            raise ChainError(
                f"setup_data.{key} does not name the {key} member written just before it",
                where=where,
            )


def owned_owner(raw: bytes, payload_hash: str, where: Location) -> int:
    """The trustee id of an ``owned`` line ``{"owner":id,"payload":hash}`` in canonical
    form, whose payload must be ``payload_hash`` (the data member written just before it)."""
    owned = Owned.from_bytes(raw, where)  # canonical form included
    if owned.payload != payload_hash:
        raise ChainError(
            "owned payload does not name the data member written just before it "
            "(belenios writes every payload again)",
            where=where,
        )
    return owned.owner


def check_line(line: bytes, where: Location) -> bytes:
    """A payload line as the writer stores it: non-empty bytes without a line break."""
    if not isinstance(line, bytes):
        raise ArchiveFormatError("payload lines must be bytes", where=where)
    if not line:
        raise ArchiveFormatError("empty payload line", where=where)
    if b"\n" in line or b"\r" in line:
        raise ArchiveFormatError("payload line contains a line break", where=where)
    return line


class ChainState:
    """Incremental checker of the event chain, shared by the reader and the writer.

    Feed data members with :meth:`add_data` and events with :meth:`add_event`; it keeps
    only the last event's hash, height, type, byte offset and member index plus the pending
    data lines (O(1)).
    """

    def __init__(self) -> None:
        self.last_hash: str | None = None
        self.last_height = -1
        self.last_type: EventType | None = None
        self.last_offset = 0
        self.last_index = 0
        self.pending: list[DataMember] = []

    @classmethod
    def after(
        cls, last_hash: str, height: int, etype: EventType, offset: int, index: int
    ) -> ChainState:
        """The state just after a known event (no pending data)."""
        state = cls()
        state.last_hash = last_hash
        state.last_height = height
        state.last_type = etype
        state.last_offset = offset
        state.last_index = index
        return state

    def copy(self) -> ChainState:
        other = ChainState()
        other.last_hash = self.last_hash
        other.last_height = self.last_height
        other.last_type = self.last_type
        other.last_offset = self.last_offset
        other.last_index = self.last_index
        other.pending = list(self.pending)
        return other

    def add_data(self, member: DataMember) -> None:
        self.pending.append(member)

    def check_order(self, etype: EventType, where: Location) -> None:
        allowed = next_types(self.last_type)
        if etype not in allowed:
            after = self.last_type.value if self.last_type else "the archive header"
            expected = ", ".join(sorted(t.value for t in allowed)) or "nothing"
            raise PhaseError(
                f"{etype.value} event not allowed after {after} (expected {expected})",
                where=where,
            )

    def add_event(self, raw: bytes, name_hash: str, offset: int, index: int) -> RecordEvent:
        height = self.last_height + 1
        where = event_location(height, offset, name_hash)
        try:
            event = Event.from_bytes(raw, where)
        except ChainError:
            raise
        except (JsonFormatError, NonCanonicalError) as exc:
            raise ChainError(f"malformed event: {exc.message}", where=where) from None
        if event.height != height:
            raise ChainError(
                f"height {event.height} where {height} was expected (heights run 0, 1, 2, … "
                "without gaps)",
                where=where,
            )
        if event.parent != self.last_hash:
            raise ChainError(
                f"parent {event.parent} is not the hash of the previous event ({self.last_hash})",
                where=where,
            )
        self.check_order(event.type, where)
        lines = self.pending
        expected = PAYLOAD_LINES[event.type]
        if event.payload is not None and (not lines or lines[-1].hash != event.payload):
            present = "no data member" if not lines else f"member {lines[-1].hash}"
            raise ChainError(
                f"payload {event.payload} is not the data member written immediately before "
                f"the event ({present}); belenios writes every payload again before each "
                "event that uses it",
                where=where,
            )
        if len(lines) != expected:
            raise ChainError(
                f"{len(lines)} data member(s) before a {event.type.value} event, "
                f"{expected} expected",
                where=where,
            )
        if event.type is EventType.SETUP:
            _check_setup_data(lines, where)
        elif event.type is EventType.ENCRYPTED_TALLY:
            if _ref(lines[1].raw, "encrypted_tally", where) != lines[0].hash:
                raise ChainError(
                    "sized_encrypted_tally does not name the encrypted_tally written just "
                    "before it",
                    where=where,
                )
        elif event.type in (EventType.SHUFFLE, EventType.PARTIAL_DECRYPTION):
            owned_owner(lines[1].raw, lines[0].hash, where)
        record_event = RecordEvent(
            event=event, hash=name_hash, raw=raw, offset=offset, index=index, data=tuple(lines)
        )
        self.pending = []
        self.last_hash = name_hash
        self.last_height = height
        self.last_type = event.type
        self.last_offset = offset
        self.last_index = index
        return record_event

    def check_end(self) -> None:
        """At the end of an archive: no stray data members, and at least the Setup event."""
        if self.pending:
            first = self.pending[0]
            raise ChainError(
                f"{len(self.pending)} data member(s) after the last event", where=first.where
            )
        if self.last_hash is None:
            raise ChainError("archive has no Setup event")


def member_hash(member: TarMember, suffix: str) -> str:
    """The hash a member is named by, which must be the SHA-256 of its content."""
    name_hash = member.name[: -len(suffix)]
    if not is_sha256_hex(name_hash):
        raise ArchiveFormatError(
            f"member name {member.name!r} is not <sha256 hex>{suffix}", where=member.where
        )
    actual = sha256_hex(member.content)
    if actual != name_hash:
        raise HashMismatchError(
            f"member {member.name} has content hashing to {actual}", where=member.where
        )
    return name_hash


def check_members(
    members: Iterable[TarMember], state: ChainState, timestamp: int
) -> Iterator[tuple[TarMember, RecordEvent | None]]:
    """Check each member (mtime, name, hash) and feed it to ``state``; yields every member
    with the event it completes (``None`` for data members)."""
    for member in members:
        if member.mtime != timestamp:
            raise ArchiveFormatError(
                f"member mtime {member.mtime} differs from the archive timestamp {timestamp}",
                where=member.where,
            )
        if member.name.endswith(DATA_SUFFIX):
            name_hash = member_hash(member, DATA_SUFFIX)
            if b"\n" in member.content:
                raise ArchiveFormatError("data member spans several lines", where=member.where)
            state.add_data(DataMember(name_hash, member.content, member.offset, member.index))
            yield member, None
        elif member.name.endswith(EVENT_SUFFIX):
            name_hash = member_hash(member, EVENT_SUFFIX)
            yield member, state.add_event(member.content, name_hash, member.offset, member.index)
        else:
            raise ArchiveFormatError(f"unexpected member name {member.name!r}", where=member.where)
