"""The public record: the ``.bel`` archive (spec 4.4, FORMAT.md §1).

* :mod:`viche.record.tar` — V7 tar members as belenios-tool writes them, strict streaming reader.
* :mod:`viche.record.events` — :class:`Event`, :class:`EventType`, the ``BELENIOS`` header.
* :mod:`viche.record.archive` — :func:`read_archive` → :class:`Record`, :class:`ArchiveStream`,
  :class:`ArchiveWriter`.
* :mod:`viche.record.diff` — :func:`verify_diff`: a newer snapshot must extend an older one.
"""

from viche.record.archive import (
    ArchiveStream,
    ArchiveWriter,
    BallotEntry,
    DataMember,
    OwnedEntry,
    Record,
    RecordEvent,
    ResultEntry,
    SetupEntry,
    TallyEntry,
    read_archive,
    resolve_archive,
)
from viche.record.diff import DiffReport, verify_diff
from viche.record.events import ArchiveHeader, Event, EventType

__all__ = [
    "ArchiveHeader",
    "ArchiveStream",
    "ArchiveWriter",
    "BallotEntry",
    "DataMember",
    "DiffReport",
    "Event",
    "EventType",
    "OwnedEntry",
    "Record",
    "RecordEvent",
    "ResultEntry",
    "SetupEntry",
    "TallyEntry",
    "read_archive",
    "resolve_archive",
    "verify_diff",
]
