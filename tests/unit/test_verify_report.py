"""The verification report: failures name the check and the object, summaries count them,
the JSON form carries everything the CLI prints."""

from __future__ import annotations

import json

from viche.errors import ProofError, ReplayedBallotError
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

TRACKER = "A" * 42 + "b"


def test_failure_reads_the_object_from_where() -> None:
    exc = ProofError(
        "individual proof does not verify",
        where=f"event 12 / ballot {TRACKER} / answer 2 / choice 3 / individual proof",
    )
    f = Failure.from_error("ballots", exc)
    assert (f.check, f.code, f.height, f.ballot, f.question, f.answer) == (
        "ballots",
        "V2002",
        12,
        TRACKER,
        2,
        3,
    )
    assert f.trustee is None
    assert "ballots: [V2002]" in str(f)


def test_failure_known_fields_override_and_absent_fields_stay_empty() -> None:
    exc = ReplayedBallotError("replay", where="somewhere")
    f = Failure.from_error("ballots.replay", exc, height=7, ballot="ab" * 32)
    assert f.height == 7 and f.ballot == "ab" * 32
    assert f.question is None and f.answer is None
    data = f.to_json()
    assert data["code"] == "V3002" and "question" not in data


def test_report_ok_only_without_failures() -> None:
    report = VerificationReport(source="x")
    good = CheckResult("a", "first", count=3)
    na = CheckResult("b", "second", status=Status.NOT_APPLICABLE)
    report.checks = [good, na]
    assert report.ok
    assert report.summary() == {
        "checks": 2,
        "passed": 1,
        "failed": 0,
        "not_applicable": 1,
        "failures": 0,
    }
    bad = CheckResult("c", "third")
    bad.fail(Failure("c", "V3006", "tally differs", "event 9", height=9))
    report.checks.append(bad)
    assert not report.ok
    assert report.summary()["failed"] == 1
    assert report.check("c").failures[0].height == 9
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is False
    assert data["checks"][2]["failures"][0]["height"] == 9


def test_unreadable_report_is_not_ok() -> None:
    report = VerificationReport(source="x", readable=False)
    assert not report.ok
