"""Outcomes of non-homomorphic questions: computed by every method, recounted on check."""

from __future__ import annotations

import copy

import pytest

from viche.errors import FormatError, Location, TallyError
from viche.service.outcomes import CountingParameters, compare, outcomes, parse_methods
from viche.service.tally import QuestionResult

ROWS = [
    QuestionResult("Yes or no?", ("Yes", "No"), (3, 1), None),
    QuestionResult(
        "Rank the colours",
        ("Red", "Green", "Blue"),
        (),
        None,
        ballots=((1, 2, 3), (2, 1, 3), (1, 3, 2), (1, 2, 0)),
    ),
]
WHERE = Location(file="outcomes.json")


def test_every_method_counts_the_ranked_question() -> None:
    out = outcomes(ROWS, CountingParameters({2: 2}, {}))
    [q] = out["questions"]
    assert q["question"] == 2
    assert q["schulze"]["winners"] == [[0], [1], [2]]
    assert q["stv"]["seats"] == 2 and q["stv"]["winners"] == [0, 1]
    # grades default to the highest grade found; the unranked 0 is an invalid grade
    assert q["majority-judgment"]["grades"] == 3
    assert q["majority-judgment"]["invalid"] == [[1, 2, 0]]
    assert compare(out, ROWS, WHERE) == 3


def test_a_false_outcome_is_named() -> None:
    out = outcomes(ROWS, CountingParameters({}, {}))
    lie = copy.deepcopy(out)
    lie["questions"][0]["schulze"]["winners"] = [[1], [0], [2]]
    with pytest.raises(TallyError, match="schulze") as err:
        compare(lie, ROWS, WHERE)
    assert err.value.where.question == 2 and err.value.where.path[-1] == "schulze"
    # the publisher's own parameters are honoured, and recounted
    other = copy.deepcopy(out)
    other["questions"][0]["stv"]["seats"] = 2
    with pytest.raises(TallyError, match="stv"):
        compare(other, ROWS, WHERE)
    recounted = outcomes(ROWS, CountingParameters({2: 2}, {}))
    assert compare(recounted, ROWS, WHERE) == 3
    # a publisher may give one method only
    only = {"questions": [{"question": 2, "schulze": out["questions"][0]["schulze"]}]}
    assert compare(only, ROWS, WHERE) == 1


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"questions": {}},
        {"questions": [{"question": 1, "schulze": {}}]},
        {"questions": [{"question": 2, "stv": {"seats": 0}}]},
        {"questions": [{"question": 2, "majority-judgment": {"grades": "5"}}]},
    ],
)
def test_malformed_outcomes_are_refused(bad: object) -> None:
    with pytest.raises((FormatError, TallyError)):
        compare(bad, ROWS, WHERE)


def test_parameters_from_the_command_line() -> None:
    params = CountingParameters.parse(["2=3"], ["2=5", "3=7"])
    assert params.seats == {2: 3} and params.grades == {2: 5, 3: 7}
    assert params.seats_for(2) == 3 and params.seats_for(1) == 1
    every = CountingParameters.parse(["2", "3=1"], ["4"])
    assert (every.seats_for(1), every.seats_for(3), every.grades_for(2, [(9,)])) == (2, 1, 4)
    assert CountingParameters.parse([], []).grades_for(1, [(1, 3), (2, 0)]) == 3
    for bad in (["x=1"], ["2=0"], ["0=2"], ["0"], ["1001"], ["2=x"], [""]):
        with pytest.raises(FormatError):
            CountingParameters.parse(bad, [])


def test_methods_are_chosen_by_name() -> None:
    assert parse_methods("mj,schulze") == ("schulze", "majority-judgment")
    assert parse_methods("STV, stv") == ("stv",)
    with pytest.raises(FormatError, match="borda"):
        parse_methods("schulze,borda")
    out = outcomes(ROWS, CountingParameters({}, {}), parse_methods("stv"))
    assert set(out["questions"][0]) == {"question", "stv"}
