"""Outcomes of non-homomorphic questions: the decrypted ballots counted by every method.

A question tallied through shuffles publishes its ballots in clear (the Result event);
Belenios leaves the counting method to the reader. Viche counts each such question by the
three methods (:mod:`viche.protocol.methods`): Condorcet-Schulze, majority judgment (with
``grades`` grades: given per question, for every question, or the highest grade found in
the ballots) and single transferable vote (with ``seats`` seats: given per question, for
every question, or 1). ``viche tally result`` prints them (``--outcomes schulze,stv,mj``
chooses; ``--save-outcomes FILE`` writes the JSON below), the server's
``GET /api/v1/elections/{uuid}/result`` returns them, and ``viche verify`` recounts them
from the verified Result event (:func:`record_outcomes`) and compares a published file
with its own count (``--published-outcomes FILE``, :func:`compare`): an outcome is a
function of the verified Result, so a published outcome that differs from the recount is a
false claim about the count.

``outcomes.json``::

    {"questions": [{"question": 2, "schulze": {…}, "majority-judgment": {"grades": 5, …},
                    "stv": {"seats": 1, …}}, …]}

where each method's object is ``belenios-tool method``'s output for those ballots, with
the parameters added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viche.errors import NOWHERE, FormatError, Location, TallyError, VicheError
from viche.protocol import codec
from viche.protocol.methods import majority_judgment, schulze, stv
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

#: the methods, by their names in outcomes.json; the short names the command line accepts
METHODS = ("schulze", "stv", "majority-judgment")
_SHORT = {"schulze": "schulze", "stv": "stv", "mj": "majority-judgment",
          "majority-judgment": "majority-judgment"}  # fmt: skip


def parse_methods(text: str, where: Location = Location(path=("--outcomes",))) -> tuple[str, ...]:
    """``schulze,stv,mj`` (any of them, in any order) as outcomes.json's method names."""
    chosen: list[str] = []
    for item in text.split(","):
        name = _SHORT.get(item.strip().lower())
        if name is None:
            raise FormatError(
                f"unknown counting method {item.strip()!r} (schulze, stv, mj)", where=where
            )
        if name not in chosen:
            chosen.append(name)
    return tuple(m for m in METHODS if m in chosen)


@dataclass(frozen=True)
class CountingParameters:
    """Seats (STV) and grades (majority judgment) per question, 1-based; ``all_seats`` and
    ``all_grades`` for every question not named."""

    seats: Mapping[int, int]
    grades: Mapping[int, int]
    all_seats: int | None = None
    all_grades: int | None = None

    @classmethod
    def parse(cls, seats: Sequence[str], grades: Sequence[str]) -> CountingParameters:
        """``N`` (every question) or ``Q=N`` items (from the command line)."""
        s, all_s = _pairs(seats, "--seats")
        g, all_g = _pairs(grades, "--grades")
        return cls(s, g, all_s, all_g)

    def seats_for(self, number: int) -> int:
        return self.seats.get(number) or self.all_seats or 1

    def grades_for(self, number: int, ballots: Sequence[tuple[int, ...]]) -> int:
        found = self.grades.get(number) or self.all_grades
        return found or max((g for b in ballots for g in b), default=1) or 1


_LIMIT = 1000


def _pairs(items: Sequence[str], option: str) -> tuple[dict[int, int], int | None]:
    out: dict[int, int] = {}
    every: int | None = None
    for item in items:
        q, sep, n = item.partition("=")
        if not sep:
            q, n = "", q
        ok = n.isdigit() and 1 <= int(n) <= _LIMIT and (not sep or (q.isdigit() and int(q) >= 1))
        if not ok:
            raise FormatError(
                f"expected NUMBER or QUESTION=NUMBER (from 1 to {_LIMIT}), got {item!r}",
                where=Location(path=(option,)),
            )
        if sep:
            out[int(q)] = int(n)
        else:
            every = int(n)
    return out, every


def question_outcome(
    number: int,
    ballots: Sequence[tuple[int, ...]],
    n_answers: int,
    params: CountingParameters,
    methods: Sequence[str] = METHODS,
) -> dict[str, Any]:
    """The chosen methods' outcomes for question ``number`` (1-based)."""
    where = Location(question=number)
    out: dict[str, Any] = {"question": number}
    if "schulze" in methods:
        out["schulze"] = schulze(ballots, n_answers, blank_allowed=False, where=where).to_json()
    if "stv" in methods:
        seats = params.seats_for(number)
        out["stv"] = {"seats": seats, **stv(ballots, seats, where=where).to_json()}
    if "majority-judgment" in methods:
        grades = params.grades_for(number, ballots)
        mj = majority_judgment(ballots, n_answers, grades, blank_allowed=False, where=where)
        out["majority-judgment"] = {"grades": grades, **mj.to_json()}
    return out


def outcomes(
    rows: Sequence[object], params: CountingParameters, methods: Sequence[str] = METHODS
) -> dict[str, Any]:
    """Outcomes of every non-homomorphic question of a labelled result
    (:func:`viche.service.tally.labelled`)."""
    from viche.service.tally import QuestionResult

    out: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        assert isinstance(row, QuestionResult)
        if row.ballots is not None:
            out.append(question_outcome(number, row.ballots, len(row.answers), params, methods))
    return {"questions": out}


def record_outcomes(
    archive: Path, result: object, params: CountingParameters, methods: Sequence[str] = METHODS
) -> tuple[list[Any], dict[str, Any]]:
    """The labelled rows and the outcomes of ``result`` (the Result event's ``result``
    array, as the verifier read it) for the election of the record at ``archive``."""
    from viche.protocol.election import Election
    from viche.protocol.tally import Result
    from viche.record import ArchiveStream, resolve_archive
    from viche.service.tally import label

    election: Election | None = None
    with ArchiveStream(resolve_archive(archive)) as stream:
        for event in stream:
            where = Location(event=event.height, path=("election",))
            election = Election.from_bytes(event.data[0].raw, where)
            break
    if election is None:
        raise TallyError("the record has no Setup event", where=Location(file=str(archive)))
    rows = label(election, Result.from_json({"result": result}))
    return rows, outcomes(rows, params, methods)


def compare(published: object, rows: Sequence[object], where: Location) -> int:
    """Recount every published outcome from the labelled result ``rows``, with the
    publisher's parameters (seats, grades: a choice of the publisher, not a fact of the
    record); raise :class:`~viche.errors.TallyError` naming the first question and method
    whose published outcome differs. Returns how many outcomes were checked."""
    from viche.service.tally import QuestionResult

    if not isinstance(published, dict) or not isinstance(published.get("questions"), list):
        raise FormatError('expected {"questions": [...]}', where=where)
    nh = {
        n: row
        for n, row in enumerate(rows, start=1)
        if isinstance(row, QuestionResult) and row.ballots is not None
    }
    checked = 0
    for i, theirs in enumerate(published["questions"]):
        at = where.sub("questions", i)
        number = theirs.get("question") if isinstance(theirs, dict) else None
        if not isinstance(number, int) or number not in nh:
            raise TallyError("no such non-homomorphic question in the result", where=at)
        assert isinstance(theirs, dict)
        row = nh[number]
        assert isinstance(row, QuestionResult) and row.ballots is not None
        at = at.at(question=number)
        for method in ("schulze", "majority-judgment", "stv"):
            if method not in theirs:
                continue  # a publisher may give only the method the election uses
            claimed = theirs[method]
            params = CountingParameters(
                seats={number: _parameter(claimed, "seats", at.sub(method))}
                if method == "stv"
                else {},
                grades={number: _parameter(claimed, "grades", at.sub(method))}
                if method == "majority-judgment"
                else {},
            )
            mine = question_outcome(number, row.ballots, len(row.answers), params, (method,))
            mine = mine[method]
            if codec.dumps(claimed) != codec.dumps(mine):
                raise TallyError(
                    f"the published {method} outcome is not the count of the result",
                    where=at.sub(method),
                )
            checked += 1
    return checked


def _parameter(claimed: object, key: str, where: Location) -> int:
    value = claimed.get(key) if isinstance(claimed, dict) else None
    if type(value) is not int or not 1 <= value <= _LIMIT:
        raise FormatError(
            f"{key} must be a whole number from 1 to {_LIMIT}", where=where.sub(key)
        )
    return value


OUTCOMES_CHECK = "outcomes"
_OUTCOMES_DESCRIPTION = (
    "outcomes of the questions tallied through shuffles (Condorcet-Schulze, STV, majority "
    "judgment), counted from the Result event's decrypted ballots"
)


def add_outcomes(
    report: VerificationReport,
    archive: Path,
    published: object = None,
    where: Location = NOWHERE,
) -> list[Any] | None:
    """Count the outcomes of the verified result into ``report`` (its ``outcomes`` and an
    ``outcomes`` check) and, when ``published`` (an outcomes.json read at ``where``) is
    given, recount each of its outcomes with its own parameters: a differing one fails the
    check. Returns the labelled rows (None when there is no verified result)."""
    result = CheckResult(OUTCOMES_CHECK, _OUTCOMES_DESCRIPTION)
    report.checks.append(result)
    verified = next((c for c in report.checks if c.name == "result"), None)
    if report.result is None or verified is None or verified.status is not Status.PASSED:
        result.status = Status.NOT_APPLICABLE
        result.note = "no verified Result event"
        return None
    try:
        rows, found = record_outcomes(archive, report.result, CountingParameters({}, {}))
    except VicheError as exc:
        result.fail(Failure.from_error(OUTCOMES_CHECK, exc))
        return None
    if not found["questions"]:
        result.status = Status.NOT_APPLICABLE
        result.note = "no question tallied through shuffles"
        return rows
    report.outcomes = found
    result.count = len(found["questions"]) * len(METHODS)
    result.note = (
        "derived from the Result event's decrypted ballots (STV: 1 seat; majority "
        "judgment: as many grades as the highest given)"
    )
    if published is not None:
        try:
            checked = compare(published, rows, where)
        except VicheError as exc:
            result.fail(Failure.from_error(OUTCOMES_CHECK, exc))
        else:
            result.count += checked
            result.note += f"; the published outcomes: {checked} recounted, all equal"
    return rows
