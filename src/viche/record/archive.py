"""The ``.bel`` archive: strict streaming reader, typed :class:`Record` view, safe appender.

Layout (spec 4.4, FORMAT.md §1): a V7 tar (:mod:`viche.record.tar`) whose first member is
``BELENIOS`` (:class:`~viche.record.events.ArchiveHeader`), followed by data members
``<sha256hex>.data.json`` and events ``<sha256hex>.event.json``. Every member carries the
archive timestamp as mtime. Before each event come exactly the data lines that belenios
writes for it (:data:`~viche.record.events.PAYLOAD_LINES`), the last one being the payload.
A payload is written again before every event that uses it: an event that points back at an
earlier copy is rejected, as ``belenios-tool election verify`` does.

Reading
-------
* :func:`read_archive(path) <read_archive>` → :class:`Record`: everything in memory, with typed
  access that keeps the **exact raw bytes** (verification hashes them):
  ``record.election`` / ``.trustees`` / ``.public_credentials`` / ``.setup_data`` (bytes),
  ``record.ballots`` (:class:`BallotEntry`: height, event_hash, raw, hash),
  ``record.encrypted_tally`` (:class:`TallyEntry` or None), ``record.shuffles`` and
  ``record.partial_decryptions`` (:class:`OwnedEntry`: owner, payload raw, owned raw),
  ``record.result`` (:class:`ResultEntry` or None), ``record.events`` (every
  :class:`RecordEvent` with its data members), ``record.last_hash``, ``record.height``.
* :class:`ArchiveStream` (``with ArchiveStream(path) as s: for ev in s: ...``): the same checks,
  one event at a time, for archives too large for memory.
* ``path`` may be a ``.bel`` file or a directory holding exactly one ``*.bel`` (like
  belenios-tool's ``--dir``).

Errors: :class:`~viche.errors.ArchiveFormatError` (tar layout, member names, mtime, header),
:class:`~viche.errors.HashMismatchError` (member name is not the SHA-256 of its content),
:class:`~viche.errors.ChainError` (parent, height, payload references, stray data),
:class:`~viche.errors.PhaseError` (event order). ``where`` names the byte offset, member
number (1-based, BELENIOS = 1), member name and, for events, the height.

Writing
-------
:class:`ArchiveWriter`: ``ArchiveWriter.create(path, timestamp, election, trustees,
credentials)`` writes the header, the three setup members, ``setup_data`` and the Setup event;
``ArchiveWriter.open(path)`` reads an existing archive once (or
``ArchiveWriter.for_record(record)`` continues an archive already read); ``writer.append(event_type,
payload_lines)`` appends the data lines then the event (payload = hash of the last line) in
O(1), with fsync, and truncates back on any failure. Event order is enforced (PhaseError);
ballot contents are **not** validated here (that is the service layer's job).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    ArchiveFormatError,
    ChainError,
    HashMismatchError,
    JsonFormatError,
    MissingFileError,
    NonCanonicalError,
    PhaseError,
    RecordError,
)
from viche.protocol.codec import dumps, get_str, loads
from viche.protocol.election import SetupData
from viche.protocol.tally import Owned
from viche.record.events import (
    HEX64,
    PAYLOAD_LINES,
    ArchiveHeader,
    Event,
    EventType,
    next_types,
)
from viche.record.tar import TarMember, encode_member, iter_members

HEADER_NAME = "BELENIOS"
DATA_SUFFIX = ".data.json"
EVENT_SUFFIX = ".event.json"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class DataMember:
    """A ``.data.json`` member: its hash (= name without suffix) and exact content."""

    hash: str
    raw: bytes = field(repr=False)
    offset: int
    index: int


@dataclass(frozen=True)
class RecordEvent:
    """An event, its exact bytes and hash, and the data members written just before it."""

    event: Event
    hash: str
    raw: bytes = field(repr=False)
    offset: int
    index: int
    data: tuple[DataMember, ...] = field(repr=False)

    @property
    def height(self) -> int:
        return self.event.height

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def where(self) -> str:
        return f"height {self.height} / member {self.index} {self.hash}{EVENT_SUFFIX}"


@dataclass(frozen=True)
class BallotEntry:
    """A ballot: the Ballot event's height and hash, the raw ballot, its hex hash."""

    height: int
    event_hash: str
    raw: bytes = field(repr=False)
    hash: str


@dataclass(frozen=True)
class TallyEntry:
    """The EncryptedTally event: encrypted_tally and sized_encrypted_tally lines."""

    height: int
    event_hash: str
    tally: DataMember
    sized: DataMember

    @property
    def tally_raw(self) -> bytes:
        return self.tally.raw

    @property
    def sized_raw(self) -> bytes:
        return self.sized.raw


@dataclass(frozen=True)
class OwnedEntry:
    """A Shuffle or PartialDecryption event: ``payload`` (the shuffle / partial decryption)
    and ``owned`` (``{"owner":id,"payload":hash}``), with the owner's trustee id."""

    height: int
    event_hash: str
    owner: int
    payload: DataMember
    owned: DataMember

    @property
    def payload_raw(self) -> bytes:
        return self.payload.raw

    @property
    def owned_raw(self) -> bytes:
        return self.owned.raw


@dataclass(frozen=True)
class ResultEntry:
    height: int
    event_hash: str
    raw: bytes = field(repr=False)
    hash: str


@dataclass(frozen=True)
class SetupEntry:
    """The four setup data members and the Setup event."""

    election: DataMember
    trustees: DataMember
    credentials: DataMember
    setup_data: DataMember
    event_hash: str


@dataclass(frozen=True)
class Record:
    """A whole archive, checked (tar, hashes, chain, order), with typed access."""

    path: Path
    header: ArchiveHeader
    setup: SetupEntry
    events: tuple[RecordEvent, ...] = field(repr=False)
    ballots: tuple[BallotEntry, ...] = field(repr=False)
    end_ballots: RecordEvent | None
    encrypted_tally: TallyEntry | None
    shuffles: tuple[OwnedEntry, ...] = field(repr=False)
    end_shuffles: RecordEvent | None
    partial_decryptions: tuple[OwnedEntry, ...] = field(repr=False)
    result: ResultEntry | None
    size: int

    @property
    def timestamp(self) -> int:
        return self.header.timestamp

    @property
    def election(self) -> bytes:
        return self.setup.election.raw

    @property
    def trustees(self) -> bytes:
        return self.setup.trustees.raw

    @property
    def public_credentials(self) -> bytes:
        return self.setup.credentials.raw

    @property
    def setup_data(self) -> bytes:
        return self.setup.setup_data.raw

    @property
    def last_event(self) -> RecordEvent:
        return self.events[-1]

    @property
    def last_hash(self) -> str:
        return self.events[-1].hash

    @property
    def height(self) -> int:
        return self.events[-1].height


# --------------------------------------------------------------------------- chain rules


def _ref(raw: bytes, key: str, where: str) -> str:
    obj = loads(raw, where)
    if not isinstance(obj, dict) or key not in obj:
        raise ChainError(f"expected an object with a {key!r} reference", where=where)
    value = get_str(obj, key, where)
    if not HEX64.fullmatch(value):
        raise ChainError(f"{key} {value!r} is not a lower-case hex SHA-256", where=where)
    return value


def _check_setup_data(lines: list[DataMember], where: str) -> None:
    setup = SetupData.from_bytes(lines[3].raw, where)  # canonical form included
    for key, member in zip(("election", "trustees", "credentials"), lines[:3], strict=True):
        if getattr(setup, key) != member.hash:
            raise ChainError(
                f"setup_data.{key} does not name the {key} member written just before it",
                where=where,
            )


def _owned_owner(raw: bytes, payload_hash: str, where: str) -> int:
    owned = Owned.from_bytes(raw, where)  # canonical form included
    if owned.payload != payload_hash:
        raise ChainError(
            "owned payload does not name the data member written just before it "
            "(belenios writes every payload again)",
            where=where,
        )
    return owned.owner


class ChainState:
    """Incremental checker of the event chain, shared by the reader and the writer.

    Feed data members with :meth:`add_data` and events with :meth:`add_event`; it keeps
    only the last event's hash, height and type plus the pending data lines (O(1)).
    """

    def __init__(self) -> None:
        self.last_hash: str | None = None
        self.last_height = -1
        self.last_type: EventType | None = None
        self.pending: list[DataMember] = []

    def copy(self) -> ChainState:
        other = ChainState()
        other.last_hash = self.last_hash
        other.last_height = self.last_height
        other.last_type = self.last_type
        other.pending = list(self.pending)
        return other

    def add_data(self, member: DataMember) -> None:
        self.pending.append(member)

    def check_order(self, etype: EventType, where: str) -> None:
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
        where = f"height {height} / member {index} {name_hash}{EVENT_SUFFIX}"
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
            _owned_owner(lines[1].raw, lines[0].hash, where)
        record_event = RecordEvent(
            event=event, hash=name_hash, raw=raw, offset=offset, index=index, data=tuple(lines)
        )
        self.pending = []
        self.last_hash = name_hash
        self.last_height = height
        self.last_type = event.type
        return record_event


# --------------------------------------------------------------------------- reading


def resolve_archive(path: str | os.PathLike[str]) -> Path:
    """A ``.bel`` file, or the single ``*.bel`` file inside a directory (a sub-directory
    named ``x.bel`` is not an archive)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(q for q in p.glob("*.bel") if q.is_file())
        if len(found) != 1:
            raise MissingFileError(
                f"expected exactly one .bel archive in the directory, found {len(found)}",
                where=str(p),
            )
        return found[0]
    if not p.is_file():
        raise MissingFileError("archive not found", where=str(p))
    return p


def _member_hash(member: TarMember, suffix: str) -> str:
    name_hash = member.name[: -len(suffix)]
    if not HEX64.fullmatch(name_hash):
        raise ArchiveFormatError(
            f"member name {member.name!r} is not <sha256 hex>{suffix}", where=member.where
        )
    actual = sha256_hex(member.content)
    if actual != name_hash:
        raise HashMismatchError(
            f"member {member.name} has content hashing to {actual}",
            where=f"{member.where} {member.name}",
        )
    return name_hash


class ArchiveStream:
    """Streaming, fully checked reader. Use as a context manager and iterate the events.

    ``header`` is available after entering; ``end`` (byte size) and ``state`` (the chain
    state after the last event) once iteration has finished.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = resolve_archive(path)
        self._file: BinaryIO | None = None
        self._members: Iterator[TarMember] | None = None
        self.header: ArchiveHeader | None = None
        self.state = ChainState()
        self.end = 0
        self.members = 0
        self.finished = False

    def __enter__(self) -> ArchiveStream:
        self._file = self.path.open("rb")
        self._members = iter_members(self._file)
        first = next(self._members, None)
        if first is None:
            raise ArchiveFormatError("empty archive", where=f"byte 0 / member 1 {self.path}")
        if first.name != HEADER_NAME:
            raise ArchiveFormatError(
                f"first member is {first.name!r}, expected {HEADER_NAME}", where=first.where
            )
        self.header = ArchiveHeader.from_bytes(first.content, f"{first.where} {HEADER_NAME}")
        if first.mtime != self.header.timestamp:
            raise ArchiveFormatError(
                f"member mtime {first.mtime} differs from the archive timestamp "
                f"{self.header.timestamp}",
                where=first.where,
            )
        self.end = first.end
        self.members = 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._members = None

    def __iter__(self) -> Iterator[RecordEvent]:
        if self._members is None or self.header is None:
            raise RecordError("ArchiveStream must be entered (with ...) before iterating")
        timestamp = self.header.timestamp
        state = self.state
        for member in self._members:
            if member.mtime != timestamp:
                raise ArchiveFormatError(
                    f"member mtime {member.mtime} differs from the archive timestamp {timestamp}",
                    where=f"{member.where} {member.name}",
                )
            if member.name.endswith(DATA_SUFFIX):
                name_hash = _member_hash(member, DATA_SUFFIX)
                if b"\n" in member.content:
                    raise ArchiveFormatError(
                        "data member spans several lines", where=f"{member.where} {member.name}"
                    )
                state.add_data(DataMember(name_hash, member.content, member.offset, member.index))
            elif member.name.endswith(EVENT_SUFFIX):
                name_hash = _member_hash(member, EVENT_SUFFIX)
                yield state.add_event(member.content, name_hash, member.offset, member.index)
            else:
                raise ArchiveFormatError(
                    f"unexpected member name {member.name!r}", where=member.where
                )
            self.end = member.end
            self.members = member.index
        if state.pending:
            first = state.pending[0]
            raise ChainError(
                f"{len(state.pending)} data member(s) after the last event",
                where=f"byte {first.offset} / member {first.index} {first.hash}{DATA_SUFFIX}",
            )
        if state.last_hash is None:
            raise ChainError("archive has no Setup event", where=str(self.path))
        self.finished = True


def read_archive(path: str | os.PathLike[str]) -> Record:
    """Read and check a whole archive (file, or directory with one ``*.bel``)."""
    events: list[RecordEvent] = []
    ballots: list[BallotEntry] = []
    shuffles: list[OwnedEntry] = []
    decryptions: list[OwnedEntry] = []
    setup: SetupEntry | None = None
    end_ballots = end_shuffles = None
    tally: TallyEntry | None = None
    result: ResultEntry | None = None
    with ArchiveStream(path) as stream:
        for ev in stream:
            events.append(ev)
            t, d = ev.type, ev.data
            if t is EventType.SETUP:
                setup = SetupEntry(d[0], d[1], d[2], d[3], ev.hash)
            elif t is EventType.BALLOT:
                ballots.append(BallotEntry(ev.height, ev.hash, d[0].raw, d[0].hash))
            elif t is EventType.END_BALLOTS:
                end_ballots = ev
            elif t is EventType.ENCRYPTED_TALLY:
                tally = TallyEntry(ev.height, ev.hash, d[0], d[1])
            elif t is EventType.END_SHUFFLES:
                end_shuffles = ev
            elif t is EventType.RESULT:
                result = ResultEntry(ev.height, ev.hash, d[0].raw, d[0].hash)
            else:
                entry = OwnedEntry(
                    ev.height, ev.hash, _owned_owner(d[1].raw, d[0].hash, ev.where), d[0], d[1]
                )
                (shuffles if t is EventType.SHUFFLE else decryptions).append(entry)
        assert stream.header is not None
        assert setup is not None  # the chain rules put Setup first
        return Record(
            path=stream.path,
            header=stream.header,
            setup=setup,
            events=tuple(events),
            ballots=tuple(ballots),
            end_ballots=end_ballots,
            encrypted_tally=tally,
            shuffles=tuple(shuffles),
            end_shuffles=end_shuffles,
            partial_decryptions=tuple(decryptions),
            result=result,
            size=stream.end,
        )


# --------------------------------------------------------------------------- writing


def _check_line(line: bytes, where: str) -> bytes:
    if not isinstance(line, bytes):
        raise ArchiveFormatError("payload lines must be bytes", where=where)
    if not line:
        raise ArchiveFormatError("empty payload line", where=where)
    if b"\n" in line or b"\r" in line:
        raise ArchiveFormatError("payload line contains a line break", where=where)
    return line


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArchiveWriter:
    """Appends to a ``.bel`` archive, keeping the chain state (O(1) per append).

    Every append goes to the end of the file (append mode, never a rewrite) under an
    exclusive ``flock``, is fsynced, and is truncated back if anything fails, so the archive
    is either as before or has the whole new event. If another process changed the file
    since this writer last saw it, the append is refused (:class:`RecordError`).
    """

    def __init__(
        self, path: Path, timestamp: int, state: ChainState, end: int, members: int
    ) -> None:
        self.path = path
        self.timestamp = timestamp
        self._state = state
        self._end = end
        self._members = members

    # -- construction

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        timestamp: int,
        election_bytes: bytes,
        trustees_bytes: bytes,
        credentials_bytes: bytes,
    ) -> ArchiveWriter:
        """Create a new archive (refuses to overwrite): header, setup data, Setup event."""
        p = Path(path)
        header = ArchiveHeader(timestamp=timestamp)
        state = ChainState()
        out = bytearray(encode_member(HEADER_NAME, header.to_bytes(), timestamp))
        lines = [
            _check_line(election_bytes, "election"),
            _check_line(trustees_bytes, "trustees"),
            _check_line(credentials_bytes, "public_credentials"),
        ]
        setup_data = dumps(
            {
                "election": sha256_hex(lines[0]),
                "trustees": sha256_hex(lines[1]),
                "credentials": sha256_hex(lines[2]),
            }
        ).encode()
        lines.append(setup_data)
        out += cls._encode_event(
            state, EventType.SETUP, lines, mtime=timestamp, offset=len(out), index=2
        )
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise RecordError("archive already exists", where=str(p)) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(out)
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(p)
        except BaseException:
            with contextlib.suppress(OSError):
                p.unlink()
            raise
        return cls(p, timestamp, state, len(out), 6)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ArchiveWriter:
        """Open an existing archive for appending; it is read and checked once."""
        with ArchiveStream(path) as stream:
            for _ in stream:
                pass
            assert stream.header is not None
            return cls(
                stream.path, stream.header.timestamp, stream.state, stream.end, stream.members
            )

    @classmethod
    def for_record(cls, record: Record) -> ArchiveWriter:
        """A writer that continues ``record`` without reading the file again.

        The file must still be exactly what ``record`` was read from: the first append
        refuses (:class:`RecordError`) if its size changed since.
        """
        state = ChainState()
        last = record.last_event
        state.last_hash = last.hash
        state.last_height = last.height
        state.last_type = last.type
        return cls(record.path, record.timestamp, state, record.size, last.index)

    # -- state

    @property
    def height(self) -> int:
        return self._state.last_height

    @property
    def last_hash(self) -> str:
        assert self._state.last_hash is not None
        return self._state.last_hash

    @property
    def last_type(self) -> EventType:
        assert self._state.last_type is not None
        return self._state.last_type

    @property
    def size(self) -> int:
        return self._end

    # -- appending

    @staticmethod
    def _encode_event(
        state: ChainState,
        etype: EventType,
        lines: list[bytes],
        *,
        mtime: int,
        offset: int,
        index: int,
    ) -> bytes:
        """Members for ``lines`` + the event, checked by ``state`` (which is advanced)."""
        out = bytearray()
        where = f"height {state.last_height + 1}"
        state.check_order(etype, where)
        expected = PAYLOAD_LINES[etype]
        if len(lines) != expected:
            raise ArchiveFormatError(
                f"a {etype.value} event takes {expected} payload line(s), got {len(lines)}",
                where=where,
            )
        for i, line in enumerate(lines):
            _check_line(line, f"{where} / line {i + 1}")
            h = sha256_hex(line)
            state.add_data(DataMember(h, line, offset + len(out), index))
            out += encode_member(h + DATA_SUFFIX, line, mtime)
            index += 1
        event = Event(
            parent=state.last_hash,
            height=state.last_height + 1,
            type=etype,
            payload=sha256_hex(lines[-1]) if lines else None,
        )
        raw = event.to_bytes()
        h = sha256_hex(raw)
        state.add_event(raw, h, offset + len(out), index)
        out += encode_member(h + EVENT_SUFFIX, raw, mtime)
        return bytes(out)

    def append(self, event_type: EventType, payload_lines: Iterable[bytes]) -> str:
        """Append the data lines and an event of ``event_type``; return the event hash."""
        return self.append_many([(event_type, list(payload_lines))])[-1]

    def append_many(self, items: Iterable[tuple[EventType, list[bytes]]]) -> list[str]:
        """Append several events with a single write and fsync (all or nothing)."""
        if self._state.last_hash is None:
            raise RecordError("archive has no Setup event", where=str(self.path))
        state = self._state.copy()
        out = bytearray()
        hashes: list[str] = []
        members = self._members
        for etype, lines in items:
            if etype is EventType.SETUP:
                raise PhaseError(
                    "Setup is written only by ArchiveWriter.create",
                    where=f"height {state.last_height + 1}",
                )
            out += self._encode_event(
                state,
                etype,
                list(lines),
                mtime=self.timestamp,
                offset=self._end + len(out),
                index=members + 1,
            )
            members += len(lines) + 1
            assert state.last_hash is not None
            hashes.append(state.last_hash)
        if not out:
            return hashes
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size != self._end:
                raise RecordError(
                    f"archive changed on disk ({size} bytes, {self._end} expected): "
                    "another writer?",
                    where=str(self.path),
                )
            try:
                view = memoryview(out)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, self._end)
                with contextlib.suppress(OSError):
                    os.fsync(fd)
                raise
        finally:
            os.close(fd)  # also releases the lock
        self._state = state
        self._end += len(out)
        self._members = members
        return hashes
