"""The universal verifier: reads only the public record, names every failed check, runs in
parallel. Entry points: :func:`verify_record` (:mod:`viche.verify.streaming`) and
:func:`verify_snapshots`.

:mod:`~viche.verify.checks` lists the checks and builds the report of an unreadable archive;
:mod:`~viche.verify.setup`, :mod:`~viche.verify.ballots`, :mod:`~viche.verify.tally` and
:mod:`~viche.verify.shuffles` hold the checks; :mod:`~viche.verify.reference` is the
in-memory verifier the streaming one is tested against."""

from viche.verify.diff import verify_snapshots
from viche.verify.report import CheckResult, Failure, Status, VerificationReport
from viche.verify.streaming import verify_record

__all__ = [
    "CheckResult",
    "Failure",
    "Status",
    "VerificationReport",
    "verify_record",
    "verify_snapshots",
]
