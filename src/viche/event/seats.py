"""Results by the Electoral Code of Ukraine (No. 396-IX of 19.12.2019): the presidential
majority rule and the allocation of parliamentary seats (``docs/seats.md``).

* :func:`presidential_result` — Book 2: a candidate with more than half of the votes of the
  voters who took part in the voting is elected; otherwise the two candidates with the most
  votes go to a repeat vote (Art. 128 part 2); :func:`second_round_result` — in the repeat
  vote the candidate with more votes is elected.
* :func:`allocate_seats` — Book 4, Art. 183: parties whose regional lists together got 5 % or
  more of the votes for all parties' regional lists take part; the electoral quota is the
  sum of their votes divided by the number of seats; each gets the whole part of its votes
  divided by the quota, and the seats left go to the largest remainders.
* :func:`allocate_regional` — Art. 184: a party's seats go to its regional lists, each the
  whole part of its regional votes divided by the quota, the rest to the lists with the
  largest unused votes.
* :func:`preference_order` — Art. 185 part 2: candidates with preference votes of at least
  25 % of the quota come first, by decreasing votes (a tie: the one higher on the list),
  then the others in the party's order.

All arithmetic is exact (:class:`fractions.Fraction`). Ties left by the Code's text (equal
remainders) go to the party or list given first: callers pass parties in the order of their
registration by the CEC, regions in the CEC's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from viche.errors import Location, SeatAllocationError
from viche.event.ballots import OpenListBallot, PartyList, RegionalTally, sum_tallies

#: Seats of the Verkhovna Rada (Constitution, Art. 76).
RADA_SEATS = 450
#: The threshold of Art. 183: 5 %.
THRESHOLD = Fraction(5, 100)
#: Art. 185 part 2: a candidate moves up with at least 25 % of the quota in preference votes.
PREFERENCE_SHARE = Fraction(25, 100)


def _check_votes(votes: Mapping[str, int], where: Location) -> None:
    for name, n in votes.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise SeatAllocationError(
                f"votes for {name!r} must be a non-negative integer", where=where.sub(name)
            )


def largest_remainders(
    quotients: Sequence[Fraction], seats: int, caps: Sequence[int] | None = None
) -> list[int]:
    """Whole parts, then one more seat each to the largest remainders until ``seats`` are
    given (a tie: the earlier entry). ``caps`` bounds each entry (a list's candidates)."""
    caps = caps if caps is not None else [seats] * len(quotients)
    out = [min(int(q), cap) for q, cap in zip(quotients, caps, strict=True)]
    left = seats - sum(out)
    ranked = sorted(range(len(quotients)), key=lambda i: (-(quotients[i] - int(quotients[i])), i))
    while left > 0:
        progressed = False
        for i in ranked:
            if left == 0:
                break
            if out[i] < caps[i]:
                out[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return out


# ---------------------------------------------------------------------- presidential


@dataclass(frozen=True)
class PresidentialResult:
    """``winner`` when one candidate has more than half of the participants' votes, else
    ``runoff``: the two candidates with the most votes (the first named leads)."""

    votes: Mapping[str, int]
    participated: int
    winner: str | None
    runoff: tuple[str, str] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "votes": dict(self.votes),
            "participated": self.participated,
            "winner": self.winner,
            "runoff": list(self.runoff) if self.runoff else None,
        }


def presidential_result(votes: Mapping[str, int], participated: int) -> PresidentialResult:
    """The first round: more than half of the votes of the voters who took part (every
    ballot issued and cast, valid or not: ``participated``) elects; else the top two go to
    the repeat vote (Art. 128 part 2). A tie for second place is refused (the Code breaks it
    by nothing we can compute)."""
    where = Location(path=("votes",))
    _check_votes(votes, where)
    if len(votes) < 2:
        raise SeatAllocationError("at least two candidates", where=where)
    if participated < sum(votes.values()):
        raise SeatAllocationError(
            "fewer voters took part than votes were counted", where=Location(path=("participated",))
        )
    ranked = sorted(votes, key=lambda c: -votes[c])
    top = ranked[0]
    if 2 * votes[top] > participated:
        return PresidentialResult(dict(votes), participated, top, None)
    if len(ranked) > 2 and votes[ranked[1]] == votes[ranked[2]]:
        raise SeatAllocationError(
            f"{ranked[1]!r} and {ranked[2]!r} tie for the repeat vote", where=where
        )
    return PresidentialResult(dict(votes), participated, None, (top, ranked[1]))


def second_round_result(votes: Mapping[str, int], participated: int) -> PresidentialResult:
    """The repeat vote: of the two candidates, the one with more votes is elected."""
    where = Location(path=("votes",))
    _check_votes(votes, where)
    if len(votes) != 2:
        raise SeatAllocationError("a repeat vote has exactly two candidates", where=where)
    a, b = votes
    if votes[a] == votes[b]:
        raise SeatAllocationError("the two candidates tie", where=where)
    winner = a if votes[a] > votes[b] else b
    return PresidentialResult(dict(votes), participated, winner, None)


# ---------------------------------------------------------------------- parliamentary


@dataclass(frozen=True)
class PartySeats:
    """One party's line of the allocation: ``quotient`` = votes / quota (0 if under the
    threshold)."""

    party: str
    votes: int
    qualified: bool
    quotient: Fraction
    seats: int


@dataclass(frozen=True)
class SeatAllocation:
    """Art. 183: the parties' seats. ``threshold_base`` is what the 5 % is taken of."""

    seats: int
    threshold_base: int
    quota: Fraction
    parties: tuple[PartySeats, ...]

    def seats_of(self, party: str) -> int:
        for p in self.parties:
            if p.party == party:
                return p.seats
        raise SeatAllocationError(f"no party {party!r}", where=Location(path=("parties",)))

    def as_dict(self) -> dict[str, int]:
        """Party → seats (every party, 0 for those under the threshold)."""
        return {p.party: p.seats for p in self.parties}

    def to_json(self) -> dict[str, Any]:
        return {
            "seats": self.seats,
            "threshold_base": self.threshold_base,
            "quota": str(self.quota),
            "parties": [
                {
                    "party": p.party,
                    "votes": p.votes,
                    "qualified": p.qualified,
                    "quotient": str(p.quotient),
                    "seats": p.seats,
                }
                for p in self.parties
            ],
        }


def allocate_seats(
    votes: Mapping[str, int],
    seats: int = RADA_SEATS,
    *,
    threshold: Fraction = THRESHOLD,
    threshold_base: int | None = None,
) -> SeatAllocation:
    """Art. 183: seats among parties by the Hare quota and largest remainders.

    ``votes``: party → votes for its regional lists, in the parties' registration order
    (which breaks ties of remainders). ``threshold_base``: what the threshold is a share of;
    by the Code, the votes for all parties' lists (the default); the 2011 law took the
    number of voters who took part in the voting (pass it to check a 2019 result).
    """
    where = Location(path=("votes",))
    _check_votes(votes, where)
    if seats < 1:
        raise SeatAllocationError("at least one seat", where=Location(path=("seats",)))
    base = sum(votes.values()) if threshold_base is None else threshold_base
    if base < sum(votes.values()):
        raise SeatAllocationError(
            "the threshold base is smaller than the votes counted",
            where=Location(path=("threshold_base",)),
        )
    qualified = [p for p, n in votes.items() if n > 0 and Fraction(n) >= threshold * base]
    if not qualified:
        raise SeatAllocationError("no party reached the threshold", where=where)
    quota = Fraction(sum(votes[p] for p in qualified), seats)
    quotients = [Fraction(votes[p]) / quota for p in qualified]
    given = dict(zip(qualified, largest_remainders(quotients, seats), strict=True))
    parties = tuple(
        PartySeats(
            p,
            n,
            p in given,
            Fraction(n) / quota if p in given else Fraction(0),
            given.get(p, 0),
        )
        for p, n in votes.items()
    )
    return SeatAllocation(seats, base, quota, parties)


def preference_order(
    party_list: PartyList, preferences: Mapping[str, int], quota: Fraction
) -> tuple[str, ...]:
    """Art. 185 part 2: the regional list reordered by the voters' preferences."""
    bar = PREFERENCE_SHARE * quota
    position = {c: i for i, c in enumerate(party_list.candidates)}
    ahead = sorted(
        (c for c in party_list.candidates if preferences.get(c, 0) >= bar),
        key=lambda c: (-preferences.get(c, 0), position[c]),
    )
    rest = [c for c in party_list.candidates if c not in set(ahead)]
    return (*ahead, *rest)


@dataclass(frozen=True)
class ParliamentResult:
    """The whole chain: party seats, seats per regional list, and who is elected."""

    allocation: SeatAllocation
    regional_seats: Mapping[str, Mapping[str, int]]
    elected: Mapping[str, Mapping[str, tuple[str, ...]]]
    unfilled: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "allocation": self.allocation.to_json(),
            "regional_seats": {p: dict(r) for p, r in self.regional_seats.items()},
            "elected": {p: {r: list(c) for r, c in rs.items()} for p, rs in self.elected.items()},
            "unfilled": dict(self.unfilled),
        }


def allocate_regional(
    allocation: SeatAllocation, ballots: Sequence[OpenListBallot], tallies: Sequence[RegionalTally]
) -> ParliamentResult:
    """Art. 184–185: each qualifying party's seats among its regional lists, then the
    candidates elected from each list. ``ballots`` and ``tallies`` are per region, in the
    same order. Seats a party cannot fill (its lists have too few candidates) are reported
    in ``unfilled``."""
    if [b.region for b in ballots] != [t.region for t in tallies]:
        raise SeatAllocationError(
            "ballots and tallies name different regions", where=Location(path=("tallies",))
        )
    quota = allocation.quota
    regional_seats: dict[str, dict[str, int]] = {}
    elected: dict[str, dict[str, tuple[str, ...]]] = {}
    unfilled: dict[str, int] = {}
    for party in allocation.parties:
        if not party.qualified:
            continue
        entries: list[tuple[str, PartyList, RegionalTally]] = []
        for ballot, tally in zip(ballots, tallies, strict=True):
            for pl in ballot.lists:
                if pl.party == party.party:
                    entries.append((ballot.region, pl, tally))
        quotients = [Fraction(t.party_votes.get(party.party, 0)) / quota for _, _, t in entries]
        caps = [len(pl.candidates) for _, pl, _ in entries]
        shares = largest_remainders(quotients, party.seats, caps)
        regional_seats[party.party] = {r: s for (r, _, _), s in zip(entries, shares, strict=True)}
        elected[party.party] = {
            region: preference_order(pl, tally.preferences.get(party.party, {}), quota)[:s]
            for (region, pl, tally), s in zip(entries, shares, strict=True)
        }
        missing = party.seats - sum(shares)
        if missing:
            unfilled[party.party] = missing
    return ParliamentResult(allocation, regional_seats, elected, unfilled)


def parliament_result(
    ballots: Sequence[OpenListBallot],
    tallies: Sequence[RegionalTally],
    seats: int = RADA_SEATS,
    *,
    threshold: Fraction = THRESHOLD,
) -> ParliamentResult:
    """From the regions' decoded tallies to the elected candidates (Art. 183–185).

    Parties are ordered by their first appearance on the ballots (the CEC's order)."""
    national = sum_tallies(tallies)
    order: list[str] = []
    for b in ballots:
        for pl in b.lists:
            if pl.party not in order:
                order.append(pl.party)
    votes = {p: national.get(p, 0) for p in order}
    return allocate_regional(allocate_seats(votes, seats, threshold=threshold), ballots, tallies)
