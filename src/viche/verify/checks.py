"""The checks of a verification, the state they share while they run, and the report of a
record that cannot be read.

:data:`CHECKS` lists every check in report order; :class:`Run` holds their results while
the setup, ballot and tally checks fill them in (:mod:`viche.verify.setup`,
:mod:`viche.verify.tally`); :func:`unreadable_report` is what both verifiers
(:mod:`viche.verify.streaming`, :mod:`viche.verify.reference`) return when the archive
cannot be read to its end.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from viche.errors import ArchiveFormatError, Location, VicheError
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

#: ``progress(stage, done, total)``: stage is one of the check names.
Progress = Callable[[str, int, int], None]

CHECKS: tuple[tuple[str, str], ...] = (
    ("record.chain", "archive layout, member hashes, event chain and order"),
    ("setup.election", "election well formed, group known"),
    ("setup.setup_data", "setup_data names the election, trustees and credentials members"),
    ("setup.trustees", "trustee proofs of knowledge, certificates, coefexps, verification keys"),
    ("setup.public_key", "election public key is the product of the trustees' sub-keys"),
    ("setup.credentials", "public credentials: group members, distinct, weights"),
    ("ballots", "every ballot: canonical, uuid, election hash, credential, proofs, signature"),
    ("ballots.replay", "no ballot replays an earlier Ballot event byte for byte"),
    ("tally.encrypted", "encrypted tally recomputed from the last ballot of each credential"),
    ("shuffles", "mixnet shuffles of non-homomorphic questions"),
    ("decryption.partial", "every partial decryption proof against its trustee's key"),
    ("result", "result recomputed from the encrypted tally and the partial decryptions"),
)


class Run:
    """State shared by the checks of one verification."""

    def __init__(self, report: VerificationReport, progress: Progress | None) -> None:
        self.report = report
        self.progress = progress
        self.results = {name: CheckResult(name, desc) for name, desc in CHECKS}
        report.checks = list(self.results.values())

    def r(self, name: str) -> CheckResult:
        return self.results[name]

    def fail(self, name: str, exc: VicheError, **defaults: int | str | None) -> None:
        """Record ``exc`` as a failure of check ``name``. ``defaults`` (``event=0``,
        ``trustee=3``) fill the fields of ``exc.where`` that the error left unset."""
        self.results[name].fail(Failure(name, exc.code, exc.message, fill(exc.where, defaults)))

    def na(self, name: str, note: str) -> None:
        res = self.results[name]
        if res.status is not Status.FAILED:
            res.status = Status.NOT_APPLICABLE
        res.note = note

    def tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def fill(where: Location, defaults: dict[str, int | str | None]) -> Location:
    """``where`` with each field of ``defaults`` set where it is unset (None values skipped)."""
    missing = {k: v for k, v in defaults.items() if v is not None and getattr(where, k) is None}
    return where.at(**missing) if missing else where


#: A failed ballot as a worker sends it: ``(class name, code, message, where)``.
BallotError = tuple[str, str, str, Location]


def ballot_failure(error: BallotError, height: int, ballot: str) -> Failure:
    """A failed ballot check as the report lists it: at the ballot's event, the ballot
    named by its archive hash (``ballot``, hex)."""
    _cls, code, message, where = error
    return Failure("ballots", code, message, where.at(event=height, ballot=ballot))


def unreadable_report(source: str, jobs: int, exc: VicheError, t0: float) -> VerificationReport:
    """The report of a record that cannot be read to its end: ``record.chain`` failed with
    ``exc``, every other check not applicable; not ``readable`` when the archive itself is
    malformed (:class:`~viche.errors.ArchiveFormatError`)."""
    report = VerificationReport(source=source)
    report.jobs = jobs
    run = Run(report, None)
    run.r("record.chain").fail(Failure("record.chain", exc.code, exc.message, exc.where))
    if isinstance(exc, ArchiveFormatError):
        report.readable = False
    for c in report.checks[1:]:
        c.status = Status.NOT_APPLICABLE
        c.note = "the archive could not be read"
    report.timing["total"] = time.perf_counter() - t0
    return report
