"""The verification report: failures name the check and the object, summaries count them,
the JSON form carries everything the CLI prints."""

from __future__ import annotations

import json

from viche.errors import Location, ProofError, ReplayedBallotError
from viche.verify.checks import Run
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

TRACKER = "A" * 42 + "b"


def test_failure_reads_the_object_from_where() -> None:
    exc = ProofError(
        "individual proof does not verify",
        where=Location(event=12, ballot=TRACKER, question=2, answer=3, path=("individual proof",)),
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


def test_run_fills_unset_fields_and_absent_fields_stay_empty() -> None:
    run = Run(VerificationReport(source="x"), None)
    exc = ReplayedBallotError("replay", where=Location(event=3, path=("somewhere",)))
    run.fail("ballots.replay", exc, event=7, ballot="ab" * 32, trustee=None)
    (f,) = run.r("ballots.replay").failures
    assert f.height == 3 and f.ballot == "ab" * 32  # the error's own event is kept
    assert f.question is None and f.answer is None and f.trustee is None
    data = f.to_json()
    assert data["code"] == "V3002" and "question" not in data
    assert data["where"] == {"event": 3, "ballot": "ab" * 32, "path": ["somewhere"]}
    assert data["at"] == f"event 3 / ballot {'ab' * 32} / somewhere"
    assert (data["height"], data["ballot"]) == (3, "ab" * 32)  # the flat keys stay
    assert Location.from_dict(data["where"]) == f.where


def test_failure_json_without_a_location() -> None:
    data = Failure("c", "V3006", "tally differs").to_json()
    assert data["where"] == {} and data["at"] == ""
    assert not {"height", "ballot", "question", "answer", "trustee"} & set(data)


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
    bad.fail(Failure("c", "V3006", "tally differs", Location(event=9)))
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
