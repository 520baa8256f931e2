"""``errors.located``: a check runs first without building locations, and only a failure
is run again to be located; the verdict and the error are those of the located run."""

from __future__ import annotations

import pytest

from viche.errors import NOWHERE, UNLOCATED, Location, ProofError, located


def _check(value: int, where: Location) -> int:
    """A check in the shape of the ballot's: locations derived all the way down."""
    qwhere = where.at(question=2).sub("choices")
    for i in range(value):
        cwhere = qwhere.at(answer=i).sub("alpha")
        if i == 3:
            raise ProofError(f"choice {i} fails", where=cwhere)
    return value


def test_a_passing_check_runs_once_and_builds_no_location() -> None:
    seen: list[Location] = []

    def run(where: Location) -> int:
        seen.append(where)
        return _check(2, where)

    assert located(run, Location(event=5)) == 2
    assert seen == [UNLOCATED]


def test_unlocated_derives_only_itself() -> None:
    assert UNLOCATED.at(question=1, answer=2) is UNLOCATED
    assert UNLOCATED.sub("a", 3) is UNLOCATED
    assert UNLOCATED != NOWHERE and not UNLOCATED and str(UNLOCATED) == ""


def test_a_failure_is_raised_located_as_the_plain_run_raises_it() -> None:
    where = Location(event=5, ballot="t")
    with pytest.raises(ProofError) as plain:
        _check(9, where)
    with pytest.raises(ProofError) as info:
        located(lambda w: _check(9, w), where)
    assert (info.value.code, info.value.message, info.value.where) == (
        plain.value.code,
        plain.value.message,
        plain.value.where,
    )
    assert str(info.value.where) == "event 5 / ballot t / question 2 / answer 3 / choices / alpha"
    assert info.value.__suppress_context__  # not chained to the unlocated first error


def test_a_refusal_is_never_turned_into_an_acceptance() -> None:
    """Should the located run pass (a check that is not a pure function), the first error
    stands."""
    runs: list[Location] = []

    def flaky(where: Location) -> int:
        runs.append(where)
        if len(runs) == 1:
            raise ProofError("first run fails", where=where)
        return 1

    with pytest.raises(ProofError, match="first run fails"):
        located(flaky, Location(event=1))
    assert runs == [UNLOCATED, Location(event=1)]


def test_other_exceptions_pass_through_unchanged() -> None:
    def broken(where: Location) -> int:
        raise KeyError("x")

    with pytest.raises(KeyError):
        located(broken, NOWHERE)
