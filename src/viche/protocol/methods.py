"""Counting methods for the decrypted ballots of non-homomorphic (ranked, graded) questions.

A question tallied through shuffles yields its ballots in clear: one integer per answer.
Belenios interprets them with three methods, and so does Viche, with the same inputs
and the same JSON results as ``belenios-tool method …`` so that anyone can recompute an
outcome with either tool:

* :func:`schulze` — each ballot gives a rank per answer (1 = best; 0 = not ranked, below
  every ranked answer; equal ranks are ties). ``raw[i][j]`` counts the ballots that put
  answer i above answer j. A direct beat of i over j (when ``raw[i][j] > raw[j][i]``) has
  the strength ``(raw[i][j], raw[j][i])``; strengths compare by winning votes, then by
  fewer losing votes. ``beatpaths[i][j]`` is the strongest path from i to j (a path is as
  strong as its weakest beat; ``(0, 0)`` when there is none). The ranking puts first the
  answers that no other beats through beatpaths, removes them, and repeats. With blank
  allowed, an all-zero ballot is counted as blank.
* :func:`majority_judgment` — each ballot gives every answer a grade from 1 (best) to G.
  ``raw[i][g]`` counts the grades ``g + 1`` of answer i. Answers are ordered by their
  sequence of successive medians (the median of an even count is the better of the two
  middle grades; the median is removed and the next one taken). A ballot with a grade
  outside 1..G is invalid, unless it is all zeros and blank is allowed (blank).
* :func:`stv` — each ballot ranks answers 1, 2, 3, … (each rank once, the others 0). The
  Droop quota is ``floor(valid / (seats + 1)) + 1``. Each round gives every ballot to its
  first remaining answer; the answer with most votes (ties: the first answer) wins if it
  reaches the quota, and its surplus passes on at the fraction ``(votes - quota) / votes``
  of each of its ballots; otherwise the answer with fewest votes (ties: the last answer)
  is eliminated and its ballots pass on whole. When no more answers remain than seats,
  they all win. Ties are logged as ``TieWin``/``TieLose`` events.

Viche computes STV with exact fractions: ``belenios-tool`` uses floating point, so the two
can differ only where rounding makes or breaks an exact tie of transferred votes.

The functions refuse malformed input (not a list of lists of non-negative integers of
one length) with :class:`~viche.errors.FormatError`; a ballot that breaks the method's
rules is not an error but is counted as invalid, as ``belenios-tool`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from viche.errors import FormatError, Location

Ballot = tuple[int, ...]
Beat = tuple[int, int]

#: Where errors about the ballots point by default.
BALLOTS = Location(path=("ballots",))

#: Bounds on what the methods accept (a national ballot has far fewer answers).
MAX_ANSWERS = 1000
MAX_GRADES = 1000


def parse_ballots(value: object, where: Location, nchoices: int = 0) -> list[Ballot]:
    """Decrypted ballots from JSON: a list of lists of non-negative integers, all of
    length ``nchoices`` (inferred from the first ballot when 0)."""
    if not isinstance(value, list):
        raise FormatError("expected a JSON list of ballots", where=where)
    out: list[Ballot] = []
    for i, item in enumerate(value):
        at = where.sub(str(i))
        if not isinstance(item, list):
            raise FormatError("a ballot must be a list of integers", where=at)
        if any(type(x) is not int or x < 0 for x in item):
            raise FormatError("every entry of a ballot must be a non-negative integer", where=at)
        if nchoices == 0:
            nchoices = len(item)
        if len(item) != nchoices:
            raise FormatError(
                f"a ballot of {len(item)} entries where {nchoices} were expected", where=at
            )
        out.append(tuple(item))
    if nchoices > MAX_ANSWERS:
        raise FormatError(f"more than {MAX_ANSWERS} answers", where=where)
    return out


def _check_width(ballots: Sequence[Ballot], nchoices: int, where: Location) -> None:
    if not 0 < nchoices <= MAX_ANSWERS:
        raise FormatError(f"the number of answers must be 1 to {MAX_ANSWERS}", where=where)
    for i, b in enumerate(ballots):
        if len(b) != nchoices:
            raise FormatError(
                f"a ballot of {len(b)} entries where {nchoices} were expected",
                where=where.sub(str(i)),
            )


# ---------------------------------------------------------------------- Schulze


def _stronger(a: Beat, b: Beat) -> bool:
    """Is beat ``a`` stronger than ``b``: more winning votes, then fewer losing votes."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


@dataclass(frozen=True)
class SchulzeResult:
    valid: int
    blank: int | None
    raw: tuple[tuple[int, ...], ...]
    beatpaths: tuple[tuple[Beat, ...], ...]
    winners: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"valid": self.valid}
        if self.blank is not None:
            out["blank"] = self.blank
        out["raw"] = [list(r) for r in self.raw]
        out["beatpaths"] = [[list(b) for b in row] for row in self.beatpaths]
        out["winners"] = [list(w) for w in self.winners]
        return out


def schulze(
    ballots: Sequence[Ballot],
    nchoices: int,
    blank_allowed: bool,
    where: Location = BALLOTS,
) -> SchulzeResult:
    """The Schulze method (winning votes, losing votes second) over rank ballots."""
    _check_width(ballots, nchoices, where)
    counted: list[Ballot] = []
    blank = 0
    for b in ballots:
        if blank_allowed and not any(b):
            blank += 1
        else:
            counted.append(b)
    raw = [[0] * nchoices for _ in range(nchoices)]
    for b in counted:
        # 0 (not ranked) comes after every rank
        ranks = [r if r else float("inf") for r in b]
        for i in range(nchoices):
            for j in range(nchoices):
                if ranks[i] < ranks[j]:
                    raw[i][j] += 1
    paths: list[list[Beat]] = [[(0, 0)] * nchoices for _ in range(nchoices)]
    for i in range(nchoices):
        for j in range(nchoices):
            if raw[i][j] > raw[j][i]:
                paths[i][j] = (raw[i][j], raw[j][i])
    # strongest paths: Floyd–Warshall over (max, min)
    for k in range(nchoices):
        for i in range(nchoices):
            via_k = paths[i][k]
            for j in range(nchoices):
                weakest = paths[k][j] if _stronger(via_k, paths[k][j]) else via_k
                if _stronger(weakest, paths[i][j]):
                    paths[i][j] = weakest
    remaining = list(range(nchoices))
    ranking: list[tuple[int, ...]] = []
    while remaining:
        unbeaten = tuple(
            i for i in remaining if not any(_stronger(paths[j][i], paths[i][j]) for j in remaining)
        )
        ranking.append(unbeaten)
        remaining = [i for i in remaining if i not in unbeaten]
    return SchulzeResult(
        valid=len(counted),
        blank=blank if blank_allowed else None,
        raw=tuple(tuple(r) for r in raw),
        beatpaths=tuple(tuple(r) for r in paths),
        winners=tuple(ranking),
    )


# ---------------------------------------------------------------------- Majority judgment


@dataclass(frozen=True)
class MajorityJudgmentResult:
    raw: tuple[tuple[int, ...], ...]
    valid: int
    blank: int | None
    invalid: tuple[Ballot, ...]
    winners: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"raw": [list(r) for r in self.raw], "valid": self.valid}
        if self.blank is not None:
            out["blank"] = self.blank
        out["invalid"] = [list(b) for b in self.invalid]
        out["winners"] = [list(w) for w in self.winners]
        return out


def _median_sequence(counts: Sequence[int]) -> tuple[int, ...]:
    """Successive medians of the grades counted in ``counts`` (index 0 = best grade)."""
    grades = [g for g, n in enumerate(counts) for _ in range(n)]
    out: list[int] = []
    while grades:
        out.append(grades.pop((len(grades) - 1) // 2))
    return tuple(out)


def majority_judgment(
    ballots: Sequence[Ballot],
    nchoices: int,
    ngrades: int,
    blank_allowed: bool,
    where: Location = BALLOTS,
) -> MajorityJudgmentResult:
    """Majority judgment over grade ballots (1 = best … ``ngrades``)."""
    _check_width(ballots, nchoices, where)
    if not 0 < ngrades <= MAX_GRADES:
        raise FormatError(f"the number of grades must be 1 to {MAX_GRADES}", where=where)
    raw = [[0] * ngrades for _ in range(nchoices)]
    valid = blank = 0
    invalid: list[Ballot] = []
    for b in ballots:
        if all(0 < g <= ngrades for g in b):
            valid += 1
            for i, g in enumerate(b):
                raw[i][g - 1] += 1
        elif blank_allowed and not any(b):
            blank += 1
        else:
            invalid.append(b)
    medians = [_median_sequence(r) for r in raw]
    order = sorted(range(nchoices), key=lambda i: (medians[i], i))
    ranking: list[tuple[int, ...]] = []
    for i in order:
        if ranking and medians[ranking[-1][0]] == medians[i]:
            ranking[-1] += (i,)
        else:
            ranking.append((i,))
    return MajorityJudgmentResult(
        raw=tuple(tuple(r) for r in raw),
        valid=valid,
        blank=blank if blank_allowed else None,
        invalid=tuple(invalid),
        winners=tuple(ranking),
    )


# ---------------------------------------------------------------------- STV


@dataclass(frozen=True)
class StvEvent:
    """``Win`` (answers elected), ``Lose`` (one answer eliminated), ``TieWin`` /
    ``TieLose`` (the two answers whose equal votes were settled by answer order)."""

    kind: str
    answers: tuple[int, ...]

    def to_json(self) -> list[Any]:
        if self.kind == "Lose":
            return [self.kind, self.answers[0]]
        return [self.kind, list(self.answers)]


@dataclass(frozen=True)
class StvResult:
    ballots: tuple[tuple[int, ...], ...]
    invalid: tuple[Ballot, ...]
    events: tuple[StvEvent, ...]
    winners: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ballots": [list(b) for b in self.ballots],
            "invalid": [list(b) for b in self.invalid],
            "events": [e.to_json() for e in self.events],
            "winners": list(self.winners),
        }


def preference_order(ballot: Ballot) -> tuple[int, ...] | None:
    """Answers in order of preference when ranks run 1, 2, … k once each and every other
    entry is 0; ``None`` otherwise (an invalid STV ballot)."""
    ranked = sorted((r, i) for i, r in enumerate(ballot) if r)
    if any(r != n + 1 for n, (r, _) in enumerate(ranked)):
        return None
    return tuple(i for _, i in ranked)


def stv(ballots: Sequence[Ballot], seats: int, where: Location = BALLOTS) -> StvResult:
    """Single transferable vote (Droop quota, fractional surplus transfer, exact)."""
    if seats < 1:
        raise FormatError("the number of seats must be at least 1", where=where)
    if ballots:
        _check_width(ballots, len(ballots[0]), where)
    orders: list[tuple[int, ...]] = []
    bad: list[Ballot] = []
    for b in ballots:
        order = preference_order(b)
        if order is None:
            bad.append(b)
        else:
            orders.append(order)
    orders.sort()
    bad.sort()
    quota = Fraction(len(orders) // (seats + 1) + 1)
    live: list[tuple[Fraction, tuple[int, ...]]] = [(Fraction(1), o) for o in orders]
    events: list[StvEvent] = []
    to_fill = seats
    while to_fill > 0:
        running = sorted({a for _, o in live for a in o})
        if len(running) <= to_fill:
            events.append(StvEvent("Win", tuple(running)))
            break
        votes = dict.fromkeys(running, Fraction(0))
        for w, o in live:
            if o:
                votes[o[0]] += w
        ranked = sorted(running, key=lambda a: (-votes[a], a))
        top, second = ranked[0], ranked[1]
        if votes[top] >= quota:
            if votes[second] == votes[top]:
                events.append(StvEvent("TieWin", (top, second)))
            events.append(StvEvent("Win", (top,)))
            keep = (votes[top] - quota) / votes[top]
            chosen = top
            to_fill -= 1
        else:
            last, before = ranked[-1], ranked[-2]
            if votes[before] == votes[last]:
                events.append(StvEvent("TieLose", (last, before)))
            events.append(StvEvent("Lose", (last,)))
            keep = Fraction(1)
            chosen = last
        live = [
            (w * keep if o and o[0] == chosen else w, tuple(a for a in o if a != chosen))
            for w, o in live
        ]
    winners = tuple(a for e in events if e.kind == "Win" for a in e.answers)
    return StvResult(
        ballots=tuple(orders), invalid=tuple(bad), events=tuple(events), winners=winners
    )
