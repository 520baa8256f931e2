""":class:`ArchiveStore`: the :class:`~viche.record.store.ElectionStore` of a ``.bel`` file.

The archive is the single source of truth; the :mod:`ballot index <viche.record.index>`
beside it answers "is this ballot already here?", "what did this credential cast last?" and
"where is the chain's head?" without reading the archive, so that casting a ballot costs
the same on an archive of 100 ballots as on one of a million.

Opening reads and checks the header, the setup members and the Setup event (the size of
the setup, not of the vote), then brings the index up to date under the archive's lock:

* the indexed head is read back at its offset and re-hashed (one member); if it matches and
  the archive has not grown, nothing else is read;
* if the archive grew (another writer, or a crash after an append and before the index was
  written), only the new members are read, checked against the chain and indexed;
* if anything does not match (another setup, a shorter archive, another event at the
  indexed offset, an unreadable index), the index is rebuilt from a full, checked read.

The same check runs every time :meth:`ArchiveStore.locked` takes the lock, so that
"check, then append" sees every other writer's events. A ballot that the index says is
present is read back at its offset before it is believed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from viche.crypto.hashing import sha256_hex
from viche.errors import Location, RecordError, VicheError
from viche.protocol import codec
from viche.record.chain import ChainState, check_members
from viche.record.entries import DATA_SUFFIX, EVENT_SUFFIX
from viche.record.events import Event, EventType
from viche.record.files import resolve_archive, storage_error
from viche.record.index import BallotIndex, IndexedBallot, IndexedHead, UnusableIndexError
from viche.record.reader import ArchiveStream, LimitedReader
from viche.record.store import ChainHead, SetupBytes, StoredBallot
from viche.record.tar import TarMember, iter_members
from viche.record.writer import ArchiveWriter

_COPY_CHUNK = 1 << 20


def ballot_credential(raw: bytes) -> str:
    """The ``credential`` field of a ballot line ("" when there is none)."""
    try:
        obj = codec.loads(raw, Location(path=("ballot",)))
    except VicheError:
        return ""
    value = obj.get("credential") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


class ArchiveStore:
    """One election's ``.bel`` archive with its ballot index (see the module docstring).

    ``ArchiveStore.open(path)`` (a ``.bel`` file or a directory holding one) or
    ``ArchiveStore.create(path, ...)``; use as a context manager or call :meth:`close`.
    ``sidecar=False`` keeps the index in memory (built from a full read).

    One store serves one thread at a time (a server with several threads opens one store
    per thread, or serialises calls); processes and threads with their own stores are kept
    apart by the archive's ``flock``.
    """

    def __init__(
        self,
        path: Path,
        *,
        setup: SetupBytes,
        setup_hash: str,
        after_setup: ChainState,
        setup_end: int,
        index: BallotIndex,
    ) -> None:
        self.path = path
        self._setup = setup
        self._setup_hash = setup_hash
        self._after_setup = after_setup
        self._setup_end = setup_end
        self._writer = ArchiveWriter(path, setup.timestamp, after_setup.copy(), setup_end)
        self._index = index
        self._locked = 0
        try:
            self._file: BinaryIO = path.open("rb")
        except OSError as exc:
            index.close()
            raise storage_error(exc, path, "read the archive") from None

    # -- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, sidecar: bool = True) -> ArchiveStore:
        archive = resolve_archive(path)
        with ArchiveStream(archive) as stream:
            setup_event = next(iter(stream))  # the chain rules put Setup first
            assert stream.header is not None
            d = setup_event.data
            setup = SetupBytes(stream.header.timestamp, d[0].raw, d[1].raw, d[2].raw)
            after_setup, setup_end = stream.state.copy(), stream.end
        index = BallotIndex.beside(archive) if sidecar else BallotIndex.memory()
        store = cls(
            archive,
            setup=setup,
            setup_hash=setup_event.hash,
            after_setup=after_setup,
            setup_end=setup_end,
            index=index,
        )
        try:
            with store.locked():
                pass
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        timestamp: int,
        election: bytes,
        trustees: bytes,
        credentials: bytes,
        *,
        sidecar: bool = True,
    ) -> ArchiveStore:
        """A new archive at ``path`` (refused if it exists) holding the Setup event."""
        writer = ArchiveWriter.create(path, timestamp, election, trustees, credentials)
        return cls.open(writer.path, sidecar=sidecar)

    def __enter__(self) -> ArchiveStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._index.close()

    # -- ElectionStore: reading

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def index_path(self) -> Path | None:
        """The index file (``None`` when the index is in memory)."""
        return self._index.path

    def setup(self) -> SetupBytes:
        return self._setup

    def head(self) -> ChainHead:
        w = self._writer
        return ChainHead(w.height, w.last_hash, w.last_type)

    @property
    def size(self) -> int:
        """Bytes of the archive as this store last saw it."""
        return self._writer.size

    def ballot_by_hash(self, ballot_hash: str) -> StoredBallot | None:
        return self._confirmed(lambda: self._index.by_hash(ballot_hash))

    def last_ballot(self, credential: str) -> StoredBallot | None:
        return self._confirmed(lambda: self._index.last_for(credential))

    def ballot_count(self) -> int:
        try:
            return self._index.count()
        except UnusableIndexError:
            self._fall_back_to_memory()
            return self._index.count()

    def events(self) -> Iterator[tuple[EventType, Sequence[bytes]]]:
        with ArchiveStream(self.path, limit=self._writer.size) as stream:
            for ev in stream:
                if ev.type is not EventType.SETUP:
                    yield ev.type, tuple(d.raw for d in ev.data)

    def write_archive(self, out: BinaryIO) -> None:
        left = self._writer.size
        try:
            with self.path.open("rb") as f:
                while left > 0:
                    chunk = f.read(min(_COPY_CHUNK, left))
                    if not chunk:
                        raise RecordError(
                            "the archive is shorter than when it was opened",
                            where=Location(file=self.name),
                        )
                    out.write(chunk)
                    left -= len(chunk)
        except OSError as exc:
            raise storage_error(exc, self.path, "read the archive") from None

    # -- ElectionStore: writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        if self._locked:
            self._locked += 1
            try:
                yield
            finally:
                self._locked -= 1
            return
        with self._writer.locked() as fd:
            self._locked = 1
            try:
                self._sync(fd)
                yield
            finally:
                self._locked = 0

    def append(
        self,
        event_type: EventType,
        payload_lines: Sequence[bytes],
        *,
        expected_head: str,
        ballot: StoredBallot | None = None,
    ) -> ChainHead:
        with self.locked():
            head = self.head()
            if expected_head != head.hash:
                raise RecordError(
                    f"the record moved on: its last event is {head.hash} (height "
                    f"{head.height}), not {expected_head}; check again and retry",
                    where=Location(file=self.name, event=head.height),
                )
            lines = list(payload_lines)
            offset = self._writer.size
            event_hash = self._writer.append(event_type, lines)
            rows: list[IndexedBallot] = []
            if event_type is EventType.BALLOT:
                credential = ballot.credential if ballot else ballot_credential(lines[0])
                rows.append(
                    IndexedBallot(
                        self._writer.height, event_hash, sha256_hex(lines[0]), credential, offset
                    )
                )
            self._index_update(rows, reset=False)
            return self.head()

    # -- keeping the index true

    def _indexed_head(self) -> IndexedHead:
        w = self._writer
        return IndexedHead(
            self._setup_hash,
            w.size,
            w.members,
            w.last_hash,
            w.height,
            w.last_type,
            w.last_offset,
        )

    def _index_update(self, rows: list[IndexedBallot], *, reset: bool) -> None:
        try:
            self._index.update(self._indexed_head(), rows, reset=reset)
        except UnusableIndexError:
            self._fall_back_to_memory()

    def _drop_index_file(self) -> None:
        """The index file failed: remove it (the next open starts a new one) and continue
        with an empty index in memory."""
        path = self._index.path
        self._index.close()
        self._index = BallotIndex.memory()
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()

    def _fall_back_to_memory(self) -> None:
        """The index file failed: continue with an index in memory, rebuilt from the
        archive (the archive is the truth; nothing is lost)."""
        self._drop_index_file()
        self._rebuild(self._writer.size)

    def _sync(self, fd: int) -> None:
        try:
            now, opened = os.fstat(fd), os.fstat(self._file.fileno())
            indexed = self._index.head()
        except OSError as exc:
            raise storage_error(exc, self.path, "read the archive") from None
        except UnusableIndexError:
            self._drop_index_file()
            indexed = None
        if (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            if stat.S_ISDIR(now.st_mode):
                raise storage_error(
                    IsADirectoryError(errno.EISDIR, ""), self.path, "lock the archive"
                )
            raise RecordError(
                "the archive was replaced by another file since it was opened; open it again",
                where=Location(file=self.name),
            )
        size = now.st_size
        if indexed is not None and self._head_matches(indexed, size):
            state = ChainState.after(
                indexed.hash, indexed.height, indexed.type, indexed.offset, indexed.members
            )
            self._writer.continue_from(state, indexed.size)
            if indexed.size < size:
                self._extend(size)
            return
        self._rebuild(size)

    def _rebuild(self, size: int) -> None:
        self._writer.continue_from(self._after_setup.copy(), self._setup_end)
        self._extend(size, reset=True)

    def _read_members(self, start: int, stop: int, first_index: int) -> Iterator[TarMember]:
        self._file.seek(start)
        return iter_members(LimitedReader(self._file, stop - start), start, first_index)

    def _head_matches(self, indexed: IndexedHead, size: int) -> bool:
        """Whether the indexed head is the archive's event at the indexed offset (one
        member read back and re-hashed)."""
        if indexed.setup_hash != self._setup_hash or not 0 < indexed.offset < indexed.size:
            return False
        if indexed.size > size:
            return False
        try:
            member = next(self._read_members(indexed.offset, indexed.size, indexed.members), None)
            if member is None or member.end != indexed.size:
                return False
            if member.name != indexed.hash + EVENT_SUFFIX:
                return False
            if sha256_hex(member.content) != indexed.hash:
                return False
            if member.mtime != self._setup.timestamp:
                return False
            event = Event.from_bytes(member.content)
        except OSError as exc:
            raise storage_error(exc, self.path, "read the archive") from None
        except VicheError:
            return False
        return event.height == indexed.height and event.type is indexed.type

    def _extend(self, size: int, *, reset: bool = False) -> None:
        """Read, check and index the members from the writer's end to ``size``."""
        w = self._writer
        state = ChainState.after(w.last_hash, w.height, w.last_type, w.last_offset, w.members)
        rows: list[IndexedBallot] = []
        end = w.size
        try:
            members = self._read_members(w.size, size, w.members + 1)
            for member, event in check_members(members, state, self._setup.timestamp):
                end = member.end
                if event is not None and event.type is EventType.BALLOT:
                    data = event.data[0]
                    rows.append(
                        IndexedBallot(
                            event.height,
                            event.hash,
                            data.hash,
                            ballot_credential(data.raw),
                            data.offset,
                        )
                    )
            state.check_end()
        except OSError as exc:
            raise storage_error(exc, self.path, "read the archive") from None
        except VicheError as exc:
            raise type(exc)(
                exc.message, where=exc.where.at(file=self.name), code=exc.code
            ) from None
        w.continue_from(state, end)
        self._index_update(rows, reset=reset)

    def _confirmed(self, query: Callable[[], IndexedBallot | None]) -> StoredBallot | None:
        """The index's answer, read back from the archive before it is believed; a wrong
        answer rebuilds the index and asks again."""
        for attempt in range(2):
            try:
                found = query()
            except UnusableIndexError:
                self._fall_back_to_memory()
                continue
            if found is None:
                return None
            if self._holds(found):
                return StoredBallot(found.height, found.event_hash, found.hash, found.credential)
            if attempt == 0:
                with self.locked():
                    self._rebuild(self._writer.size)
        raise RecordError(
            "the ballot index disagrees with the archive even after a rebuild",
            where=Location(file=self.name),
        )

    def _holds(self, found: IndexedBallot) -> bool:
        if found.offset >= self._writer.size:
            return False
        try:
            member = next(self._read_members(found.offset, self._writer.size, 0), None)
        except OSError as exc:
            raise storage_error(exc, self.path, "read the archive") from None
        except VicheError:
            return False
        return (
            member is not None
            and member.name == found.hash + DATA_SUFFIX
            and sha256_hex(member.content) == found.hash
        )
