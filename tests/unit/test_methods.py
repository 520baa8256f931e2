"""Counting methods on hand-checked profiles (each success with a failure twin)."""

from __future__ import annotations

import pytest

from viche.errors import FormatError, Location
from viche.protocol import methods as m


def _expand(profile: list[tuple[int, tuple[int, ...]]]) -> list[tuple[int, ...]]:
    return [b for n, b in profile for _ in range(n)]


def test_schulze_wikipedia_example() -> None:
    # The 45-voter example of the Schulze method's description: A..E = 0..4,
    # ranking E > A > C > B > D. Ballots give a rank per candidate.
    orders = [
        (5, "ACBED"), (5, "ADECB"), (8, "BEDAC"), (3, "CABED"),
        (7, "CAEBD"), (2, "CBADE"), (7, "DCEBA"), (8, "EBADC"),
    ]  # fmt: skip
    profile = [(n, tuple(o.index(c) + 1 for c in "ABCDE")) for n, o in orders]
    result = m.schulze(_expand(profile), 5, blank_allowed=False)
    assert result.winners == ((4,), (0,), (2,), (1,), (3,))
    assert result.valid == 45 and result.blank is None
    assert result.raw[0][1] == 20 and result.raw[1][0] == 25
    # d[E][D] strongest path E -> D
    assert result.beatpaths[4][3] == (31, 14)


def test_schulze_ties_blank_and_unranked() -> None:
    # 0 means not ranked: below every ranked answer
    result = m.schulze([(1, 0, 0)], 3, blank_allowed=False)
    assert result.raw == ((0, 1, 1), (0, 0, 0), (0, 0, 0))
    assert result.winners == ((0,), (1, 2))
    blank = m.schulze([(0, 0, 0), (2, 1, 0)], 3, blank_allowed=True)
    assert (blank.valid, blank.blank) == (1, 1)
    assert blank.winners == ((1,), (0,), (2,))
    assert blank.to_json()["blank"] == 1
    # failure twin: without blank allowed, the all-zero ballot is a valid, empty ranking
    no_blank = m.schulze([(0, 0, 0), (2, 1, 0)], 3, blank_allowed=False)
    assert (no_blank.valid, no_blank.blank) == (2, None)
    assert "blank" not in no_blank.to_json()


def test_majority_judgment_medians() -> None:
    # answer 0: grades 1,3 (median of two: the better, 1); answer 1: 2,2
    result = m.majority_judgment([(1, 2, 3), (3, 2, 1)], 3, 3, blank_allowed=False)
    assert result.raw == ((1, 0, 1), (0, 2, 0), (1, 0, 1))
    assert result.winners == ((0, 2), (1,))
    # equal medians are separated by the next median
    tie = m.majority_judgment([(1, 2), (2, 2), (3, 2)], 2, 3, blank_allowed=False)
    assert tie.winners == ((0,), (1,))


def test_majority_judgment_invalid_and_blank() -> None:
    ballots = [(1, 2), (0, 0), (4, 1), (0, 1)]
    allowed = m.majority_judgment(ballots, 2, 3, blank_allowed=True)
    assert (allowed.valid, allowed.blank, allowed.invalid) == (1, 1, ((4, 1), (0, 1)))
    refused = m.majority_judgment(ballots, 2, 3, blank_allowed=False)
    assert (refused.valid, refused.blank) == (1, None)
    assert refused.invalid == ((0, 0), (4, 1), (0, 1))


def test_stv_surplus_and_elimination() -> None:
    # 6 ballots, 2 seats: quota 3. Answer 0 has exactly the quota (no surplus), then
    # 1, 2, 3 tie on one vote each: the last (3) is eliminated, its ballot goes to 2.
    ballots = [(1, 2, 3, 4)] * 3 + [(2, 1, 3, 4), (3, 2, 1, 4), (4, 3, 2, 1)]
    result = m.stv(ballots, 2)
    assert [e.to_json() for e in result.events] == [
        ["Win", [0]], ["TieLose", [3, 2]], ["Lose", 3], ["Lose", 1], ["Win", [2]],
    ]  # fmt: skip
    assert result.winners == (0, 2)


def test_stv_fractional_transfer() -> None:
    # 5 ballots, 1 seat, quota 3: answer 0 wins with 4 and its surplus is not needed;
    # with 2 seats (quota 2) the surplus 2/4 of 0's ballots elects 1 over 2.
    ballots = [(1, 2, 0)] * 4 + [(0, 0, 1)]
    assert m.stv(ballots, 1).winners == (0,)
    two = m.stv(ballots, 2)
    assert two.winners == (0, 1)
    assert [e.kind for e in two.events] == ["Win", "Win"]


def test_stv_invalid_ballots() -> None:
    result = m.stv([(1, 1, 2), (2, 3, 4), (1, 0, 3), (1, 2, 3)], 1)
    assert result.invalid == ((1, 0, 3), (1, 1, 2), (2, 3, 4))
    assert result.ballots == ((0, 1, 2),)
    assert m.preference_order((2, 0, 1)) == (2, 0)
    assert m.preference_order((2, 0, 3)) is None


def test_parse_ballots_names_the_bad_ballot() -> None:
    where = Location(file="ballots.json")
    assert m.parse_ballots([[1, 2], [0, 0]], where) == [(1, 2), (0, 0)]
    with pytest.raises(FormatError) as err:
        m.parse_ballots([[1, 2], [1, -1]], where)
    assert err.value.where.path == ("1",) and err.value.where.file == "ballots.json"
    with pytest.raises(FormatError, match="3 entries where 2"):
        m.parse_ballots([[1, 2], [1, 2, 3]], where)
    with pytest.raises(FormatError):
        m.parse_ballots([[True, 2]], where)
    with pytest.raises(FormatError):
        m.parse_ballots({"a": 1}, where)
    with pytest.raises(FormatError):
        m.stv([(1,)], 0)
    with pytest.raises(FormatError):
        m.majority_judgment([(1,)], 1, 0, blank_allowed=False)
