"""``verify_snapshots``: :func:`viche.record.diff.verify_diff` in the report format."""

from __future__ import annotations

import time
from pathlib import Path

from viche.errors import ArchiveFormatError, MissingFileError, StorageError, VicheError
from viche.record.diff import verify_diff
from viche.verify.report import CheckResult, Failure, VerificationReport


def verify_snapshots(old: str | Path, new: str | Path) -> VerificationReport:
    """Check that the record NEW extends OLD (same setup, every event of OLD kept, bytes of
    OLD a prefix of NEW). Raises :class:`~viche.errors.MissingFileError` when either is
    absent and :class:`~viche.errors.StorageError` when the system refuses to read one;
    every other problem is a failure of the ``record.extends`` check."""
    t0 = time.perf_counter()
    report = VerificationReport(source=f"{old} -> {new}")
    check = CheckResult("record.extends", "the newer snapshot extends the older one")
    report.checks.append(check)
    try:
        diff = verify_diff(old, new)
    except (MissingFileError, StorageError):
        raise
    except VicheError as exc:
        check.fail(Failure.from_error("record.extends", exc))
        if isinstance(exc, ArchiveFormatError):
            report.readable = False
    else:
        check.count = diff.new_height + 1
        check.note = (
            f"height {diff.old_height} -> {diff.new_height}: {len(diff.added)} event(s) added, "
            f"{diff.added_ballots} ballot(s)"
        )
        report.counts.update(
            old_height=diff.old_height,
            new_height=diff.new_height,
            added_events=len(diff.added),
            added_ballots=diff.added_ballots,
        )
    check.seconds = time.perf_counter() - t0
    report.timing["total"] = check.seconds
    return report
