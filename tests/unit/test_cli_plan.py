"""Laws of the election plans used by ``viche demo`` and the tests: random votes are always
valid votes, and the expected result counts the last vote of each voter with its weight."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto.answers import validate_h_plaintext
from viche.crypto.rng import SeededRandom
from viche.errors import BallotShapeError
from viche.protocol.election import ElectionTemplate, HomomorphicQuestion
from viche.service.credentials import Voter
from viche.service.election_run import ElectionPlan, Vote, random_choices


@st.composite
def templates(draw: st.DrawFn) -> ElectionTemplate:
    questions = []
    for i in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 6))
        lo = draw(st.integers(0, n))
        hi = draw(st.integers(lo, n))
        blank = draw(st.booleans())
        questions.append(
            HomomorphicQuestion(tuple(f"a{j}" for j in range(n)), blank, lo, hi, f"q{i}")
        )
    return ElectionTemplate("d", "n", tuple(questions))


@settings(max_examples=60, deadline=None)
@given(templates(), st.integers(0, 2**32), st.booleans())
def test_random_choices_are_valid_votes(tpl: ElectionTemplate, seed: int, blank: bool) -> None:
    rows = random_choices(tpl, SeededRandom(seed), blank=blank)
    for q, row in zip(tpl.questions, rows, strict=True):
        assert isinstance(q, HomomorphicQuestion)
        validate_h_plaintext(row, n_answers=len(q.answers), min=q.min, max=q.max, blank=q.blank)
        if blank and q.blank:
            assert row[0] == 1


def test_an_invalid_vote_is_what_validation_refuses() -> None:
    """Failure twin: the validator used above does refuse a vote outside min..max."""
    with pytest.raises(BallotShapeError):
        validate_h_plaintext([1, 1], n_answers=2, min=1, max=1, blank=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=5),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1)), min_size=1, max_size=12),
)
def test_expected_result_counts_last_votes_with_weights(
    weights: list[int], casts: list[tuple[int, int]]
) -> None:
    from viche.crypto.group import BELENIOS_2048
    from viche.service.election_run import expected_result

    q = HomomorphicQuestion(("yes", "no"), False, 1, 1, "q")
    tpl = ElectionTemplate("d", "n", (q,))
    voters = [Voter(f"v{i},v{i},{w}", f"v{i}", f"v{i}", w) for i, w in enumerate(weights)]
    votes = [Vote(v % len(weights), [[1 - c, c]]) for v, c in casts]
    plan = ElectionPlan(tpl, BELENIOS_2048, voters, votes)

    class _E:  # expected_result only reads the questions
        questions = tpl.questions

    got = expected_result(_E(), plan)  # type: ignore[arg-type]
    last = {v.voter: v.choices[0] for v in votes}
    want = [sum(weights[i] * row[j] for i, row in last.items()) for j in range(2)]
    assert got == [want]
    assert sum(got[0]) == sum(weights[i] for i in last)
