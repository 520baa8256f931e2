"""Ballot questions of the Electoral Code of Ukraine (No. 396-IX of 19.12.2019) as Belenios
homomorphic questions, and the decoding of their tallies (``docs/seats.md``).

* **Presidential ballot** (Book 2): the voter marks exactly one candidate. One homomorphic
  question, one answer per candidate, ``min = max = 1``, no blank.
* **Parliamentary open regional list** (Book 4, Art. 133: a vote for a party's regional list
  and, optionally, for one candidate of that list in the voter's region). One homomorphic
  question whose answers are, party after party in ballot order, the party alone and then
  each (party, candidate) pair of its regional list; ``min = max = 1``, no blank. Exactly one
  answer is marked, so a vote for a candidate can only go with the candidate's own party
  (a ballot marking a candidate of another party cannot be formed), and the archive stays a
  plain Belenios election that belenios-tool verifies and tallies. A party's votes are the
  sum of its answers; a candidate's preference votes are the count of its pair.

The answer labels are for people (``"Party"``, ``"Party — Candidate"``); decoding uses the
structure (:class:`OpenListBallot`, published in the event setup), never the labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from viche.errors import BallotEncodingError, Location
from viche.protocol.election import HomomorphicQuestion

#: What separates party and candidate in an answer label.
SEPARATOR = " — "
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LABEL_MAX = 200


def _check_label(text: object, where: Location) -> str:
    if not isinstance(text, str):
        raise BallotEncodingError("expected a string", where=where)
    if not text.strip() or text != text.strip() or len(text) > _LABEL_MAX:
        raise BallotEncodingError(
            f"a name is 1 to {_LABEL_MAX} characters without surrounding spaces", where=where
        )
    if _CONTROL_RE.search(text) or SEPARATOR in text:
        raise BallotEncodingError(
            f"a name has no control characters and no {SEPARATOR!r}", where=where
        )
    return text


def _check_counts(result: Sequence[int], n: int, where: Location) -> None:
    if len(result) != n:
        raise BallotEncodingError(f"expected {n} counts, got {len(result)}", where=where)
    for i, count in enumerate(result):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BallotEncodingError(
                "a count is a non-negative integer", where=where.at(answer=i + 1)
            )


# ---------------------------------------------------------------------- presidential


def presidential_question(
    candidates: Sequence[str], title: str = "Вибори Президента України"
) -> HomomorphicQuestion:
    """The presidential ballot: one answer per candidate (ballot order), exactly one mark."""
    where = Location(path=("candidates",))
    names = [_check_label(c, where.sub(i)) for i, c in enumerate(candidates)]
    if len(names) < 2:
        raise BallotEncodingError(
            "a presidential ballot lists at least two candidates", where=where
        )
    if len(set(names)) != len(names):
        raise BallotEncodingError("a candidate is listed twice", where=where)
    q = HomomorphicQuestion(tuple(names), blank=False, min=1, max=1, question=title)
    q.validate(where)
    return q


def decode_presidential(
    candidates: Sequence[str], result: Sequence[int], where: Location = Location()
) -> dict[str, int]:
    """Votes per candidate from the question's tally row."""
    _check_counts(result, len(candidates), where)
    return dict(zip(candidates, result, strict=True))


# ---------------------------------------------------------------------- open regional list


@dataclass(frozen=True)
class PartyList:
    """A party's regional list in one region: its candidates in the party's order."""

    party: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class RegionalTally:
    """The decoded tally of one region's open-list question.

    ``party_votes[party]`` counts every ballot for the party (with or without a candidate);
    ``preferences[party][candidate]`` counts the ballots naming that candidate.
    """

    region: str
    party_votes: Mapping[str, int]
    preferences: Mapping[str, Mapping[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "party_votes": dict(self.party_votes),
            "preferences": {p: dict(c) for p, c in self.preferences.items()},
        }


@dataclass(frozen=True)
class OpenListBallot:
    """One region's parliamentary ballot: the parties' regional lists in ballot order."""

    region: str
    lists: tuple[PartyList, ...]

    def __post_init__(self) -> None:
        where = Location(path=("ballot", self.region))
        if not self.lists:
            raise BallotEncodingError("an open-list ballot lists at least one party", where=where)
        parties = [_check_label(pl.party, where.sub(i, "party")) for i, pl in enumerate(self.lists)]
        if len(set(parties)) != len(parties):
            raise BallotEncodingError("a party is listed twice", where=where)
        for i, pl in enumerate(self.lists):
            for j, c in enumerate(pl.candidates):
                _check_label(c, where.sub(i, "candidates", j))
            if len(set(pl.candidates)) != len(pl.candidates):
                raise BallotEncodingError(
                    f"a candidate is listed twice on {pl.party}'s list", where=where.sub(i)
                )

    def choices(self) -> tuple[tuple[str, str | None], ...]:
        """The answers in order: ``(party, None)`` then ``(party, candidate)`` for each."""
        out: list[tuple[str, str | None]] = []
        for pl in self.lists:
            out.append((pl.party, None))
            out.extend((pl.party, c) for c in pl.candidates)
        return tuple(out)

    def labels(self) -> tuple[str, ...]:
        """The answer labels shown to voters."""
        return tuple(p if c is None else f"{p}{SEPARATOR}{c}" for p, c in self.choices())

    def question(self, title: str | None = None) -> HomomorphicQuestion:
        """The Belenios homomorphic question (exactly one answer)."""
        text = title or f"Вибори народних депутатів України: виборчий регіон {self.region}"
        q = HomomorphicQuestion(self.labels(), blank=False, min=1, max=1, question=text)
        q.validate(Location(path=("ballot", self.region)))
        return q

    def index(self, party: str, candidate: str | None = None) -> int:
        """The answer index (0-based) of a party alone or a (party, candidate) pair."""
        try:
            return self.choices().index((party, candidate))
        except ValueError:
            what = party if candidate is None else f"{party}{SEPARATOR}{candidate}"
            raise BallotEncodingError(
                f"{what!r} is not an answer of this ballot",
                where=Location(path=("ballot", self.region)),
            ) from None

    def decode(self, result: Sequence[int], where: Location = Location()) -> RegionalTally:
        """The party and preference votes from the question's tally row."""
        choices = self.choices()
        _check_counts(result, len(choices), where)
        party_votes: dict[str, int] = {pl.party: 0 for pl in self.lists}
        preferences: dict[str, dict[str, int]] = {pl.party: {} for pl in self.lists}
        for (party, candidate), count in zip(choices, result, strict=True):
            party_votes[party] += count
            if candidate is not None:
                preferences[party][candidate] = count
        return RegionalTally(self.region, party_votes, preferences)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "lists": [{"party": pl.party, "candidates": list(pl.candidates)} for pl in self.lists],
        }

    @classmethod
    def from_json(cls, value: object, where: Location = Location()) -> OpenListBallot:
        if not isinstance(value, dict) or set(value) != {"region", "lists"}:
            raise BallotEncodingError('expected {"region", "lists"}', where=where)
        region = _check_label(value["region"], where.sub("region"))
        lists = value["lists"]
        if not isinstance(lists, list):
            raise BallotEncodingError("expected a list", where=where.sub("lists"))
        out: list[PartyList] = []
        for i, item in enumerate(lists):
            w = where.sub("lists", i)
            if not isinstance(item, dict) or set(item) != {"party", "candidates"}:
                raise BallotEncodingError('expected {"party", "candidates"}', where=w)
            cands = item["candidates"]
            if not isinstance(cands, list):
                raise BallotEncodingError("expected a list", where=w.sub("candidates"))
            out.append(
                PartyList(
                    _check_label(item["party"], w.sub("party")),
                    tuple(_check_label(c, w.sub("candidates", j)) for j, c in enumerate(cands)),
                )
            )
        return cls(region, tuple(out))


def sum_tallies(tallies: Iterable[RegionalTally]) -> dict[str, int]:
    """National party votes: the sum over regions (the per-style results add up)."""
    total: dict[str, int] = {}
    for t in tallies:
        for party, n in t.party_votes.items():
            total[party] = total.get(party, 0) + n
    return total
