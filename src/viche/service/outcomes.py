"""Outcomes of non-homomorphic questions: the decrypted ballots counted by every method.

A question tallied through shuffles publishes its ballots in clear (the Result event);
Belenios leaves the counting method to the reader. Viche counts each such question by the
three methods (:mod:`viche.protocol.methods`): Condorcet-Schulze, majority judgment (with
``grades`` grades: given per question, or the highest grade found in the ballots) and
single transferable vote (with ``seats`` seats: given per question, or 1). The outcomes
are written as JSON (``viche tally result --outcomes FILE``, the server's result page) and
anyone recomputes and compares them from the public record (``viche verify --outcomes
FILE``): an outcome is a function of the verified Result, so a published outcome that
differs from the recomputation is a false claim about the count.

``outcomes.json``::

    {"questions": [{"question": 2, "schulze": {…}, "majority-judgment": {"grades": 5, …},
                    "stv": {"seats": 1, …}}, …]}

where each method's object is ``belenios-tool method``'s output for those ballots, with
the parameters added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from viche.errors import FormatError, Location, TallyError
from viche.protocol import codec
from viche.protocol.methods import majority_judgment, schulze, stv


@dataclass(frozen=True)
class CountingParameters:
    """Seats (STV) and grades (majority judgment) per question, 1-based."""

    seats: Mapping[int, int]
    grades: Mapping[int, int]

    @classmethod
    def parse(cls, seats: Sequence[str], grades: Sequence[str]) -> CountingParameters:
        """``Q=N`` pairs (from the command line)."""
        return cls(_pairs(seats, "--seats"), _pairs(grades, "--grades"))


def _pairs(items: Sequence[str], option: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for item in items:
        q, sep, n = item.partition("=")
        if not sep or not q.isdigit() or not n.isdigit() or int(q) < 1 or int(n) < 1:
            raise FormatError(
                f"expected QUESTION=NUMBER (both from 1), got {item!r}",
                where=Location(path=(option,)),
            )
        out[int(q)] = int(n)
    return out


def question_outcome(
    number: int, ballots: Sequence[tuple[int, ...]], n_answers: int, params: CountingParameters
) -> dict[str, Any]:
    """The three methods' outcomes for question ``number`` (1-based)."""
    where = Location(question=number)
    grades = params.grades.get(number) or max((g for b in ballots for g in b), default=1) or 1
    seats = params.seats.get(number, 1)
    mj = majority_judgment(ballots, n_answers, grades, blank_allowed=False, where=where)
    return {
        "question": number,
        "schulze": schulze(ballots, n_answers, blank_allowed=False, where=where).to_json(),
        "majority-judgment": {"grades": grades, **mj.to_json()},
        "stv": {"seats": seats, **stv(ballots, seats, where=where).to_json()},
    }


def outcomes(rows: Sequence[object], params: CountingParameters) -> dict[str, Any]:
    """Outcomes of every non-homomorphic question of a labelled result
    (:func:`viche.service.tally.labelled`)."""
    from viche.service.tally import QuestionResult

    out: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        assert isinstance(row, QuestionResult)
        if row.ballots is not None:
            out.append(question_outcome(number, row.ballots, len(row.answers), params))
    return {"questions": out}


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
            mine = question_outcome(number, row.ballots, len(row.answers), params)[method]
            if codec.dumps(claimed) != codec.dumps(mine):
                raise TallyError(
                    f"the published {method} outcome is not the count of the result",
                    where=at.sub(method),
                )
            checked += 1
    return checked


def _parameter(claimed: object, key: str, where: Location) -> int:
    value = claimed.get(key) if isinstance(claimed, dict) else None
    if type(value) is not int or not 1 <= value <= 1000:
        raise FormatError(f"{key} must be a whole number from 1 to 1000", where=where.sub(key))
    return value
