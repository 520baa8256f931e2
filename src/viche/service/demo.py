"""``viche demo``: a small complete election, every role played, then a full verification."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viche.crypto.group import BELENIOS_2048, Group
from viche.crypto.rng import RandomSource
from viche.errors import Location, UsageError, VerificationError
from viche.protocol.election import ElectionTemplate
from viche.protocol.tally import Result
from viche.service import archive as arch
from viche.service import credentials as creds
from viche.service.election_run import (
    ElectionPlan,
    ElectionRun,
    Progress,
    Say,
    Vote,
    expected_result,
    random_choices,
    run_election,
)
from viche.service.tally import QuestionResult, labelled

DEMO_TEMPLATE = {
    "description": "Demonstration election of Viche: citizens at home and abroad, soldiers "
    "and displaced people vote online; anyone can check the count.",
    "name": "Viche demo election",
    "questions": [
        {
            "answers": ["Olena Kovalenko", "Taras Shevchuk", "Iryna Bondar", "Mykola Melnyk"],
            "blank": True,
            "min": 1,
            "max": 1,
            "question": "Who should chair the assembly?",
        },
        {
            "answers": ["Yes", "No"],
            "min": 1,
            "max": 1,
            "question": "Should polling stations abroad stay open for two days?",
        },
    ],
}


MAX_DEMO_TRUSTEES = 20


def parse_threshold(text: str) -> tuple[int, int] | None:
    """``"T/N"`` (T of N trustees needed), or ``"0"``/``"none"`` for two Single trustees."""
    if text.strip().lower() in {"0", "none", "plain"}:
        return None
    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        raise UsageError(
            f"expected T/N (e.g. 2/3) or 'none', got {text!r}",
            where=Location(path=("--threshold",)),
        )
    t, n = int(parts[0]), int(parts[1])
    if not 1 <= t <= n <= MAX_DEMO_TRUSTEES:
        raise UsageError(
            f"need 1 <= T <= N <= {MAX_DEMO_TRUSTEES}, got {t}/{n}",
            where=Location(path=("--threshold",)),
        )
    return t, n


def demo_plan(
    voters: int,
    threshold: tuple[int, int] | None,
    rng: RandomSource,
    template: ElectionTemplate | None = None,
    group: Group = BELENIOS_2048,
) -> ElectionPlan:
    """Every voter votes once (voter 2 votes blank where allowed), then voter 1 changes her
    mind and votes again: only her last ballot counts."""
    if voters < 1:
        raise UsageError(f"at least one voter, got {voters}", where=Location(path=("--voters",)))
    tpl = template or ElectionTemplate.from_json(DEMO_TEMPLATE)
    blank_voter = min(1, voters - 1)
    votes = [
        Vote(i, random_choices(tpl, rng, blank=(i == blank_voter and voters > 1)))
        for i in range(voters)
    ]
    votes.append(Vote(0, random_choices(tpl, rng, blank=(voters == 1))))
    return ElectionPlan(
        template=tpl,
        group=group,
        voters=creds.counted_voters(voters),
        votes=votes,
        singles=2 if threshold is None else 0,
        threshold=threshold,
        decrypting=None,
    )


@dataclass(frozen=True)
class DemoOutcome:
    run: ElectionRun
    plan: ElectionPlan
    verified: list[QuestionResult]
    expected_matches: bool
    checks_passed: int
    archive: Path


def run_demo(
    directory: Path,
    plan: ElectionPlan,
    rng: RandomSource,
    *,
    say: Say,
    progress: Progress,
    jobs: int | None = None,
) -> DemoOutcome:
    from viche.verify import verify_record

    run = run_election(directory, plan, rng, say=say, progress=progress)
    say("auditor: verifying the whole public record from scratch")
    report = verify_record(run.archive, jobs=jobs, progress=progress)
    if not report.ok:
        first = report.failures[0] if report.failures else None
        raise VerificationError(
            f"the demo archive failed verification: {first.message if first else 'unreadable'}",
            where=Location(file=str(run.archive)),
        )
    verified = Result.from_json({"result": report.result})
    with arch.open_record(run.archive) as state:
        rows = labelled(state, verified)
    expected = expected_result(run.election, plan)
    matches = [list(r) for r in verified.result] == expected
    passed = report.summary()["passed"]
    return DemoOutcome(run, plan, rows, matches, passed, run.archive)
