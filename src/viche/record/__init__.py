"""The public record: the ``.bel`` archive (spec 4.4, FORMAT.md §1) and the election store.

* :mod:`viche.record.tar` — V7 tar members as belenios-tool writes them, strict streaming
  reader.
* :mod:`viche.record.events` — :class:`Event`, :class:`EventType`, the ``BELENIOS`` header,
  the event order.
* :mod:`viche.record.entries` — what an archive holds: :class:`Record` and its entries.
* :mod:`viche.record.chain` — the chain rules, checked incrementally (:class:`ChainState`).
* :mod:`viche.record.reader` — :class:`ArchiveStream` and :func:`read_archive`.
* :mod:`viche.record.writer` — :class:`ArchiveWriter`.
* :mod:`viche.record.files` — :func:`resolve_archive`; operating-system errors as
  :class:`~viche.errors.StorageError`.
* :mod:`viche.record.store` — :class:`ElectionStore`, what the service layer needs of an
  election's record; :mod:`viche.record.archive_store` — :class:`ArchiveStore`, its ``.bel``
  implementation, with the ballot index of :mod:`viche.record.index`.
* :mod:`viche.record.diff` — :func:`verify_diff`: a newer snapshot must extend an older one.
"""

from viche.record.archive_store import ArchiveStore
from viche.record.chain import ChainState
from viche.record.diff import DiffReport, verify_diff
from viche.record.entries import (
    BallotEntry,
    DataMember,
    OwnedEntry,
    Record,
    RecordEvent,
    ResultEntry,
    SetupEntry,
    TallyEntry,
)
from viche.record.events import ArchiveHeader, Event, EventType
from viche.record.files import resolve_archive
from viche.record.reader import ArchiveStream, read_archive
from viche.record.store import ChainHead, ElectionStore, SetupBytes, StoredBallot
from viche.record.writer import ArchiveWriter

__all__ = [
    "ArchiveHeader",
    "ArchiveStore",
    "ArchiveStream",
    "ArchiveWriter",
    "BallotEntry",
    "ChainHead",
    "ChainState",
    "DataMember",
    "DiffReport",
    "ElectionStore",
    "Event",
    "EventType",
    "OwnedEntry",
    "Record",
    "RecordEvent",
    "ResultEntry",
    "SetupBytes",
    "SetupEntry",
    "StoredBallot",
    "TallyEntry",
    "read_archive",
    "resolve_archive",
    "verify_diff",
]
