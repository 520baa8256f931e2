"""Writing a ``.bel`` archive: create it with the Setup event, then append events.

:class:`ArchiveWriter`: ``ArchiveWriter.create(path, timestamp, election, trustees,
credentials)`` writes the header, the three setup members, ``setup_data`` and the Setup
event; ``ArchiveWriter.open(path)`` reads an existing archive once (or
``ArchiveWriter.for_record(record)`` continues an archive already read);
``writer.append(event_type, payload_lines)`` appends the data lines then the event (payload =
hash of the last line) in O(1), with fsync, and truncates back on any failure. Event order
is enforced (:class:`~viche.errors.PhaseError`); ballot contents are **not** validated here
(that is the service layer's job). A failure of the operating system is a
:class:`~viche.errors.StorageError` naming the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import ArchiveFormatError, Location, PhaseError, RecordError
from viche.protocol.codec import dumps
from viche.record.chain import ChainState, check_line
from viche.record.entries import DATA_SUFFIX, EVENT_SUFFIX, HEADER_NAME, DataMember, Record
from viche.record.events import PAYLOAD_LINES, ArchiveHeader, Event, EventType
from viche.record.files import fsync_dir, storage_error
from viche.record.reader import ArchiveStream
from viche.record.tar import encode_member


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
    where = Location(event=state.last_height + 1)
    state.check_order(etype, where)
    expected = PAYLOAD_LINES[etype]
    if len(lines) != expected:
        raise ArchiveFormatError(
            f"a {etype.value} event takes {expected} payload line(s), got {len(lines)}",
            where=where,
        )
    for i, line in enumerate(lines):
        check_line(line, where.sub(f"line {i + 1}"))
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


class ArchiveWriter:
    """Appends to a ``.bel`` archive, keeping the chain state (O(1) per append).

    Every append goes to the end of the file (append mode, never a rewrite) under an
    exclusive ``flock`` (:meth:`locked`), is fsynced, and is truncated back if anything
    fails, so the archive is either as before or has the whole new event. If another
    process changed the file since this writer last saw it, the append is refused
    (:class:`RecordError`).
    """

    def __init__(self, path: Path, timestamp: int, state: ChainState, end: int) -> None:
        self.path = path
        self.timestamp = timestamp
        self._state = state
        self._end = end
        self._lock_fd: int | None = None

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
            check_line(election_bytes, Location(path=("election",))),
            check_line(trustees_bytes, Location(path=("trustees",))),
            check_line(credentials_bytes, Location(path=("public_credentials",))),
        ]
        setup_data = dumps(
            {
                "election": sha256_hex(lines[0]),
                "trustees": sha256_hex(lines[1]),
                "credentials": sha256_hex(lines[2]),
            }
        ).encode()
        lines.append(setup_data)
        out += _encode_event(
            state, EventType.SETUP, lines, mtime=timestamp, offset=len(out), index=2
        )
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise RecordError("archive already exists", where=Location(file=str(p))) from None
        except OSError as exc:
            raise storage_error(exc, p, "create the archive") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(out)
                f.flush()
                os.fsync(f.fileno())
            fsync_dir(p)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                p.unlink()
            if isinstance(exc, OSError):
                raise storage_error(exc, p, "write the archive") from None
            raise
        return cls(p, timestamp, state, len(out))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ArchiveWriter:
        """Open an existing archive for appending; it is read and checked once."""
        with ArchiveStream(path) as stream:
            for _ in stream:
                pass
            assert stream.header is not None
            return cls(stream.path, stream.header.timestamp, stream.state, stream.end)

    @classmethod
    def for_record(cls, record: Record) -> ArchiveWriter:
        """A writer that continues ``record`` without reading the file again.

        The file must still be exactly what ``record`` was read from: the first append
        refuses (:class:`RecordError`) if its size changed since.
        """
        last = record.last_event
        state = ChainState.after(last.hash, last.height, last.type, last.offset, last.index)
        return cls(record.path, record.timestamp, state, record.size)

    def continue_from(self, state: ChainState, end: int) -> None:
        """Continue after events another writer appended (``state`` after the last one,
        ``end`` the archive's size)."""
        self._state = state
        self._end = end

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
    def last_offset(self) -> int:
        """Byte offset of the last event's member."""
        return self._state.last_offset

    @property
    def members(self) -> int:
        """Number of members in the archive (the last event's 1-based index)."""
        return self._state.last_index

    @property
    def size(self) -> int:
        return self._end

    # -- locking

    @contextlib.contextmanager
    def locked(self) -> Iterator[int]:
        """Hold the archive's exclusive ``flock`` (re-entrant within this writer); yields
        the locked descriptor (read-only)."""
        if self._lock_fd is not None:
            yield self._lock_fd
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise storage_error(exc, self.path, "open the archive") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise storage_error(exc, self.path, "lock the archive") from None
            self._lock_fd = fd
            yield fd
        finally:
            self._lock_fd = None
            os.close(fd)  # also releases the lock

    # -- appending

    def append(self, event_type: EventType, payload_lines: Iterable[bytes]) -> str:
        """Append the data lines and an event of ``event_type``; return the event hash."""
        return self.append_many([(event_type, list(payload_lines))])[-1]

    def append_many(self, items: Iterable[tuple[EventType, list[bytes]]]) -> list[str]:
        """Append several events with a single write and fsync (all or nothing)."""
        if self._state.last_hash is None:
            raise RecordError("archive has no Setup event", where=Location(file=str(self.path)))
        state = self._state.copy()
        out = bytearray()
        hashes: list[str] = []
        for etype, lines in items:
            if etype is EventType.SETUP:
                raise PhaseError(
                    "Setup is written only by ArchiveWriter.create",
                    where=Location(event=state.last_height + 1),
                )
            out += _encode_event(
                state,
                etype,
                list(lines),
                mtime=self.timestamp,
                offset=self._end + len(out),
                index=state.last_index + 1,
            )
            assert state.last_hash is not None
            hashes.append(state.last_hash)
        if not out:
            return hashes
        with self.locked() as lock_fd:
            self._write(lock_fd, bytes(out))
        self._state = state
        self._end += len(out)
        return hashes

    def _write(self, lock_fd: int, data: bytes) -> None:
        where = Location(file=str(self.path))
        try:
            size = os.fstat(lock_fd).st_size
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise storage_error(exc, self.path, "open the archive for writing") from None
        try:
            if size != self._end or os.fstat(fd).st_ino != os.fstat(lock_fd).st_ino:
                raise RecordError(
                    f"archive changed on disk ({size} bytes, {self._end} expected): "
                    "another writer?",
                    where=where,
                )
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            except BaseException as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, self._end)
                    os.fsync(fd)
                if isinstance(exc, OSError):
                    raise storage_error(exc, self.path, "write the archive") from None
                raise
        except OSError as exc:
            raise storage_error(exc, self.path, "write the archive") from None
        finally:
            os.close(fd)
