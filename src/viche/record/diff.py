"""``verify_diff``: a newer snapshot of the record must extend an older one (spec 3.5.1 step 2).

An auditor keeps the last board she checked (OLD) and, later, fetches the current one (NEW).
:func:`verify_diff(old, new) <verify_diff>` checks, streaming both archives side by side
(memory O(1), each archive read once, both fully checked by
:class:`~viche.record.reader.ArchiveStream`):

* the same ``BELENIOS`` header and the same setup (Setup event hash at height 0);
* at every height of OLD, NEW has the same event (same hash, hence same parent chain and
  payload); so the last event hash of OLD is a parent in NEW, or NEW's last event;
* the bytes of OLD are a prefix of the bytes of NEW.

Otherwise it raises :class:`~viche.errors.RemovedHistoryError` whose ``where`` names the first
height (or byte) that differs. Errors found while reading either archive keep their class and
name that archive's file in ``where``. On success it returns a
:class:`DiffReport` listing what NEW adds. This matches ``belenios-tool election verify-diff
--dir1 OLD --dir2 NEW`` ("first is not a prefix of second").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from viche.errors import Location, RemovedHistoryError, VicheError
from viche.record.entries import RecordEvent
from viche.record.events import HEADER_WHERE, EventType
from viche.record.files import resolve_archive, storage_error
from viche.record.reader import ArchiveStream

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DiffReport:
    """What NEW adds to OLD."""

    old_path: Path
    new_path: Path
    old_height: int
    new_height: int
    old_last_hash: str
    new_last_hash: str
    old_size: int
    new_size: int
    added: tuple[tuple[int, EventType, str], ...]  # (height, type, event hash)

    @property
    def added_ballots(self) -> int:
        return sum(1 for _, t, _ in self.added if t is EventType.BALLOT)


def _relabel(exc: VicheError, path: Path) -> VicheError:
    return type(exc)(exc.message, where=exc.where.at(file=str(path)), code=exc.code)


def _events(stream: ArchiveStream) -> Iterator[RecordEvent]:
    try:
        yield from stream
    except VicheError as exc:
        raise _relabel(exc, stream.path) from exc


def _enter(stack: ExitStack, path: str | os.PathLike[str]) -> ArchiveStream:
    archive = resolve_archive(path)
    try:
        return stack.enter_context(ArchiveStream(archive))
    except VicheError as exc:
        raise _relabel(exc, archive) from exc


def _check_byte_prefix(old: Path, new: Path, size: int) -> None:
    try:
        _compare_prefix(old, new, size)
    except OSError as exc:
        raise storage_error(exc, exc.filename or old, "compare the archives") from None


def _compare_prefix(old: Path, new: Path, size: int) -> None:
    with old.open("rb") as fo, new.open("rb") as fn:
        offset = 0
        while offset < size:
            a = fo.read(min(_CHUNK, size - offset))
            b = fn.read(len(a))
            if a != b:
                i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), len(b))
                raise RemovedHistoryError(
                    "the older snapshot is not a byte prefix of the newer one",
                    where=Location(offset=offset + i),
                )
            if not a:
                break
            offset += len(a)


def verify_diff(old: str | os.PathLike[str], new: str | os.PathLike[str]) -> DiffReport:
    """Check that NEW extends OLD; raise RemovedHistoryError at the first difference."""
    with ExitStack() as stack:
        old_stream = _enter(stack, old)
        new_stream = _enter(stack, new)
        if old_stream.header != new_stream.header:
            raise RemovedHistoryError(
                "the BELENIOS headers differ (another election or another start time)",
                where=HEADER_WHERE,
            )
        new_events = _events(new_stream)
        old_last: RecordEvent | None = None
        for old_ev in _events(old_stream):
            new_ev = next(new_events, None)
            if new_ev is None:
                raise RemovedHistoryError(
                    f"the newer snapshot stops before height {old_ev.height}: events were removed",
                    where=Location(event=old_ev.height),
                )
            if new_ev.hash != old_ev.hash:
                what = "the setup differs" if old_ev.height == 0 else "history was rewritten"
                raise RemovedHistoryError(
                    f"{what}: event {old_ev.hash} ({old_ev.type.value}) of the older snapshot "
                    f"is {new_ev.hash} ({new_ev.type.value}) in the newer one",
                    where=Location(event=old_ev.height),
                )
            old_last = new_ev
        assert old_last is not None  # ArchiveStream refuses an archive without Setup
        added = tuple((ev.height, ev.type, ev.hash) for ev in new_events)
        _check_byte_prefix(old_stream.path, new_stream.path, old_stream.end)
        return DiffReport(
            old_path=old_stream.path,
            new_path=new_stream.path,
            old_height=old_last.height,
            new_height=added[-1][0] if added else old_last.height,
            old_last_hash=old_last.hash,
            new_last_hash=added[-1][2] if added else old_last.hash,
            old_size=old_stream.end,
            new_size=new_stream.end,
            added=added,
        )
