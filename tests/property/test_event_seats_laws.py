"""Laws of the Electoral Code's seat allocation (Art. 183-185) on random results."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from viche.event.ballots import OpenListBallot, PartyList
from viche.event.seats import (
    THRESHOLD,
    allocate_seats,
    largest_remainders,
    parliament_result,
    preference_order,
)

#: no timing in tests: the machine may be loaded
LAWS = settings(max_examples=100, deadline=None)

votes_st = st.lists(st.integers(0, 10**7), min_size=1, max_size=12).filter(
    lambda v: any(n > 0 for n in v)
)


def _parties(votes: list[int]) -> dict[str, int]:
    return {f"P{i}": n for i, n in enumerate(votes)}


@LAWS
@given(votes_st, st.integers(1, 450))
def test_every_seat_is_given_and_the_threshold_holds(votes: list[int], seats: int) -> None:
    total = sum(votes)
    parties = _parties(votes)
    # at most 12 parties: the largest has at least 1/12 > 5 %, so someone qualifies
    allocation = allocate_seats(parties, seats)
    assert sum(allocation.as_dict().values()) == seats
    for p in allocation.parties:
        if Fraction(p.votes) < THRESHOLD * total or p.votes == 0:
            assert p.seats == 0 and not p.qualified
        else:
            # Hare with largest remainders: the whole part, or one more
            assert int(p.quotient) <= p.seats <= int(p.quotient) + 1


@LAWS
@given(votes_st, st.integers(1, 450), st.integers(0, 11), st.integers(1, 10**6))
def test_more_votes_never_means_fewer_seats(
    votes: list[int], seats: int, who: int, more: int
) -> None:
    """Monotonicity in a party's own votes, the others' votes fixed, among parties that keep
    qualifying (a gain can push another over or under the threshold, which changes the
    quota for all)."""
    who %= len(votes)
    before = allocate_seats(_parties(votes), seats)
    grown = list(votes)
    grown[who] += more
    after = allocate_seats(_parties(grown), seats)
    same_club = [p.qualified for p in before.parties] == [
        p.qualified or i == who for i, p in enumerate(after.parties)
    ] and before.parties[who].qualified
    if same_club:
        assert after.parties[who].seats >= before.parties[who].seats


@LAWS
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=10), st.integers(1, 60))
def test_ordering_by_votes_is_kept(votes: list[int], seats: int) -> None:
    """A party with more votes than another never gets fewer seats."""
    if not any(votes):
        return
    allocation = allocate_seats(_parties(votes), seats, threshold=Fraction(0))
    by = {p.party: p for p in allocation.parties}
    for a in by.values():
        for b in by.values():
            if a.votes > b.votes:
                assert a.seats >= b.seats


@LAWS
@given(
    st.lists(st.integers(0, 1000), min_size=1, max_size=8).filter(any),
    st.integers(1, 60),
    st.lists(st.integers(0, 5), min_size=8, max_size=8),
)
def test_largest_remainders_respects_caps(votes: list[int], seats: int, extra: list[int]) -> None:
    quotients = [Fraction(v * seats, sum(votes)) for v in votes]
    caps = [max(0, int(q) - 1) + e for q, e in zip(quotients, extra, strict=False)]
    out = largest_remainders(quotients, seats, caps)
    assert all(0 <= s <= c for s, c in zip(out, caps, strict=True))
    assert sum(out) == min(seats, sum(caps))
    uncapped = largest_remainders(quotients, seats)
    assert sum(uncapped) == seats
    assert all(int(q) <= s <= int(q) + 1 for q, s in zip(quotients, uncapped, strict=True))


@LAWS
@given(
    st.lists(st.integers(0, 500), min_size=2, max_size=6),
    st.integers(1, 400),
)
def test_preference_order_is_a_permutation(prefs: list[int], quota: int) -> None:
    pl = PartyList("P", tuple(f"c{i}" for i in range(len(prefs))))
    order = preference_order(pl, dict(zip(pl.candidates, prefs, strict=True)), Fraction(quota))
    assert sorted(order) == sorted(pl.candidates)
    bar = Fraction(quota, 4)
    ahead = [c for c in order if prefs[int(c[1:])] >= bar]
    assert list(order[: len(ahead)]) == ahead  # those over the bar first
    assert [prefs[int(c[1:])] for c in ahead] == sorted(
        (prefs[int(c[1:])] for c in ahead), reverse=True
    )


@LAWS
@given(
    st.lists(st.lists(st.integers(0, 300), min_size=7, max_size=7), min_size=1, max_size=4),
    st.integers(1, 12),
)
def test_regional_seats_add_up_to_the_party_seats(rows: list[list[int]], seats: int) -> None:
    ballots = [
        OpenListBallot(
            f"R{r}",
            (
                PartyList("A", (f"a{r}1", f"a{r}2", f"a{r}3")),
                PartyList("B", (f"b{r}1", f"b{r}2")),
            ),
        )
        for r in range(len(rows))
    ]
    tallies = [b.decode(row) for b, row in zip(ballots, rows, strict=True)]
    if sum(sum(row) for row in rows) == 0:
        return
    result = parliament_result(ballots, tallies, seats)
    for party, per_region in result.regional_seats.items():
        given_seats = sum(per_region.values()) + result.unfilled.get(party, 0)
        assert given_seats == result.allocation.seats_of(party)
        for region, n in per_region.items():
            assert len(result.elected[party][region]) == n
