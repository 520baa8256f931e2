"""The universal verifier: reads only the public record, names every failed check, runs in
parallel. Entry points: :func:`verify_record` and :func:`verify_snapshots`."""

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
