"""The archive on disk: finding it, and operating-system errors as typed errors.

* :func:`resolve_archive` — the one way to find an election's archive: a ``.bel`` file, or
  the single ``*.bel`` file in a directory (like ``belenios-tool --dir``).
* :func:`storage_error` — an :class:`OSError` as a :class:`~viche.errors.StorageError`
  naming the file; every read and write in :mod:`viche.record` goes through it, so nothing
  from the operating system escapes untyped.
* :func:`fsync_dir` — make a new directory entry durable.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from viche.errors import Location, MissingFileError, StorageError

ARCHIVE_SUFFIX = ".bel"


def storage_error(exc: OSError, path: str | os.PathLike[str], doing: str) -> StorageError:
    """``exc`` as a :class:`StorageError` saying what failed (``doing``: "read the
    archive") and why, naming ``path``."""
    if isinstance(exc, IsADirectoryError) or exc.errno == errno.EISDIR:
        reason = "it is a directory, not a file"
    elif isinstance(exc, FileNotFoundError):
        reason = "the file does not exist (moved or deleted?)"
    else:
        reason = exc.strerror or str(exc) or type(exc).__name__
    return StorageError(f"cannot {doing}: {reason}", where=Location(file=str(path)))


def resolve_archive(path: str | os.PathLike[str]) -> Path:
    """The archive ``path`` names: a ``.bel`` file, or the one ``*.bel`` file in a directory
    (a sub-directory named ``x.bel`` is not an archive).

    A missing path, or a directory without exactly one archive, is a
    :class:`~viche.errors.MissingFileError`; a directory that cannot be listed a
    :class:`~viche.errors.StorageError`."""
    p = Path(path)
    try:
        if p.is_dir():
            with os.scandir(p) as entries:  # unlike glob, reports an unreadable directory
                named = sorted(
                    (e for e in entries if e.name.endswith(ARCHIVE_SUFFIX)), key=lambda e: e.name
                )
                # a sub-directory named x.bel is not an archive
                found = [p / e.name for e in named if e.is_file()]
                skipped = [e.name for e in named if not e.is_file()]
            if not found:
                note = f"; skipped, not a file: {', '.join(skipped)}" if skipped else ""
                raise MissingFileError(
                    f"no .bel archive in the directory (found 0{note})",
                    where=Location(file=str(p)),
                )
            if len(found) > 1:
                names = ", ".join(f.name for f in found)
                raise MissingFileError(
                    f"expected exactly one .bel archive in the directory, found "
                    f"{len(found)}: {names}",
                    where=Location(file=str(p)),
                )
            return found[0]
        if not p.exists():
            raise MissingFileError("archive not found", where=Location(file=str(p)))
    except OSError as exc:
        raise storage_error(exc, p, "look for the archive") from None
    return p


def fsync_dir(path: Path) -> None:
    """fsync the directory holding ``path`` (its new directory entry survives a crash)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path.parent, "sync the directory") from None
