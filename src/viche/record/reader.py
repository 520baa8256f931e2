"""Reading a ``.bel`` archive, every check applied (tar layout, member hashes, chain, order).

Layout (spec 4.4, FORMAT.md §1): a V7 tar (:mod:`viche.record.tar`) whose first member is
``BELENIOS`` (:class:`~viche.record.events.ArchiveHeader`), followed by data members
``<sha256hex>.data.json`` and events ``<sha256hex>.event.json``, every member with the
archive timestamp as mtime, chained as :mod:`viche.record.chain` says.

* :class:`ArchiveStream` (``with ArchiveStream(path) as s: for ev in s: ...``): one event at
  a time, for archives of any size; ``ArchiveStream(path, limit=n)`` reads only the first
  ``n`` bytes (a consistent snapshot of an archive that another process appends to).
* :func:`read_archive(path) <read_archive>` → :class:`~viche.record.entries.Record`:
  everything in memory, with typed access.

``path`` may be a ``.bel`` file or a directory holding exactly one ``*.bel``
(:func:`~viche.record.files.resolve_archive`). A failure of the operating system is a
:class:`~viche.errors.StorageError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from viche.errors import ArchiveFormatError, Location, RecordError, VicheError
from viche.record.chain import ChainState, check_members, owned_owner
from viche.record.entries import (
    HEADER_NAME,
    BallotEntry,
    OwnedEntry,
    Record,
    RecordEvent,
    ResultEntry,
    SetupEntry,
    TallyEntry,
)
from viche.record.events import ArchiveHeader, EventType
from viche.record.files import resolve_archive, storage_error
from viche.record.tar import TarMember, iter_members


class LimitedReader:
    """The next ``limit`` bytes of a binary file, as ``read`` sees them."""

    def __init__(self, file: BinaryIO, limit: int) -> None:
        self._file = file
        self._left = limit

    def read(self, n: int = -1, /) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._file.read(n)
        self._left -= len(data)
        return data


def read_header(first: TarMember | None) -> ArchiveHeader:
    """The archive header from the first member (which must be ``BELENIOS``)."""
    if first is None:
        raise ArchiveFormatError("empty archive", where=Location(offset=0))
    if first.name != HEADER_NAME:
        raise ArchiveFormatError(
            f"first member is {first.name!r}, expected {HEADER_NAME}", where=first.where
        )
    header = ArchiveHeader.from_bytes(first.content, first.where)
    if first.mtime != header.timestamp:
        raise ArchiveFormatError(
            f"member mtime {first.mtime} differs from the archive timestamp {header.timestamp}",
            where=first.where,
        )
    return header


class ArchiveStream:
    """Streaming, fully checked reader. Use as a context manager and iterate the events.

    ``header`` is available after entering; ``end`` (byte size) and ``state`` (the chain
    state after the last event) once iteration has finished.
    """

    def __init__(self, path: str | os.PathLike[str], *, limit: int | None = None) -> None:
        self.path = resolve_archive(path)
        self._limit = limit
        self._file: BinaryIO | None = None
        self._members: Iterator[TarMember] | None = None
        self.header: ArchiveHeader | None = None
        self.state = ChainState()
        self.end = 0
        self.members = 0
        self.finished = False

    def _fail(self, exc: OSError) -> VicheError:
        return storage_error(exc, self.path, "read the archive")

    def __enter__(self) -> ArchiveStream:
        try:
            self._file = self.path.open("rb")
            source = self._file if self._limit is None else LimitedReader(self._file, self._limit)
            self._members = iter_members(source)
            first = next(self._members, None)
        except OSError as exc:
            self.__exit__(None, None, None)
            raise self._fail(exc) from None
        except BaseException:
            self.__exit__(None, None, None)
            raise
        try:
            self.header = read_header(first)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        assert first is not None
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
        checked = check_members(self._members, self.state, self.header.timestamp)
        while True:
            try:
                item = next(checked, None)
            except OSError as exc:
                raise self._fail(exc) from None
            if item is None:
                break
            member, event = item
            self.end = member.end
            self.members = member.index
            if event is not None:
                yield event
        self.state.check_end()
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
                    ev.height, ev.hash, owned_owner(d[1].raw, d[0].hash, ev.where), d[0], d[1]
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
