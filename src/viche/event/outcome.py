"""The event's ballots and what the Electoral Code makes of its results.

``ballots.json`` (signed by the event key, published with the setup) says how each style's
questions are built: the national presidential question from ``candidates``, then the open
regional list of the style's region (:class:`~viche.event.ballots.OpenListBallot`; decoding
uses this structure, never the labels). ``results.json`` (signed, after the count) is
:func:`event_outcome` of the per-style results: the presidential first round
(:func:`~viche.event.seats.presidential_result`) on the national sum, and the Rada's seats
(:func:`~viche.event.seats.parliament_result`, Arts. 183–185) on the regions' tallies, each
region's tally being the sum of its styles'. Where the Code's text decides nothing (a tie for
the repeat vote), the outcome says ``undecided`` and why, rather than inventing a rule. The
verifier recomputes both from the verified archives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from viche.errors import EventManifestError, Location, SeatAllocationError
from viche.event.ballots import (
    OpenListBallot,
    RegionalTally,
    decode_presidential,
    presidential_question,
)
from viche.event.seats import parliament_result, presidential_result
from viche.protocol import codec
from viche.protocol.election import Election

BALLOTS = "ballots.json"
RESULTS = "results.json"


@dataclass(frozen=True)
class EventBallots:
    candidates: tuple[str, ...]
    seats: int
    #: regions in the CEC's order (it breaks ties of remainders)
    regions: tuple[OpenListBallot, ...]
    #: style id -> region id
    styles: Mapping[str, str]

    def to_json(self) -> codec.JsonObject:
        return {
            "candidates": list(self.candidates),
            "seats": self.seats,
            "regions": [r.to_json() for r in self.regions],
            "styles": dict(self.styles),
        }

    @classmethod
    def from_json(cls, value: object, where: Location) -> EventBallots:
        obj = codec.expect_object(value, where, ("candidates", "seats", "regions", "styles"))
        cands = codec.expect_list(obj["candidates"], where.sub("candidates"))
        regions = tuple(
            OpenListBallot.from_json(r, where.sub("regions", i))
            for i, r in enumerate(codec.expect_list(obj["regions"], where.sub("regions")))
        )
        styles = obj["styles"]
        if not isinstance(styles, dict) or not all(
            isinstance(v, str) for v in styles.values()
        ):
            raise EventManifestError("styles: style id -> region id", where=where.sub("styles"))
        out = cls(
            tuple(str(c) for c in cands),
            codec.get_int(obj, "seats", where, minimum=1),
            regions,
            dict(styles),
        )
        known = {r.region for r in regions}
        for sid, region in out.styles.items():
            if region not in known:
                raise EventManifestError(
                    f"style {sid!r} is in region {region!r}, which has no ballot",
                    where=where.sub("styles", sid),
                )
        return out

    def region(self, region_id: str) -> OpenListBallot:
        for r in self.regions:
            if r.region == region_id:
                return r
        raise EventManifestError(f"no region {region_id!r}", where=Location(path=("regions",)))

    def check_election(self, style_id: str, election: Election, where: Location) -> None:
        """The style's election asks exactly the questions these ballots describe."""
        if style_id not in self.styles:
            raise EventManifestError(f"style {style_id!r} has no ballot", where=where)
        expected = [
            presidential_question(self.candidates).to_json(),
            self.region(self.styles[style_id]).question().to_json(),
        ]
        actual = [q.to_json() for q in election.questions]
        if len(actual) != 2 or any(
            {k: v for k, v in a.items() if k != "question"}
            != {k: v for k, v in e.items() if k != "question"}
            for a, e in zip(actual, expected, strict=True)
        ):
            raise EventManifestError(
                f"style {style_id!r}: the election's questions are not the published ballots",
                where=where,
            )


def event_outcome(ballots: EventBallots, results: Mapping[str, Sequence[Sequence[int]]]) -> Any:
    """The presidential first round and the Rada's seats from the per-style results (each
    style: ``[presidential row, open-list row]``)."""
    national = [0] * len(ballots.candidates)
    per_region: dict[str, list[int]] = {}
    for sid, rows in results.items():
        for i, v in enumerate(rows[0]):
            national[i] += v
        acc = per_region.setdefault(
            ballots.styles[sid], [0] * len(ballots.region(ballots.styles[sid]).choices())
        )
        for i, v in enumerate(rows[1]):
            acc[i] += v
    votes = decode_presidential(ballots.candidates, national)
    president: dict[str, Any]
    try:
        president = presidential_result(votes, sum(national)).to_json()
    except SeatAllocationError as exc:  # a tie the Code's text does not break
        president = {"votes": dict(votes), "participated": sum(national), "undecided": exc.message}
    tallies: list[RegionalTally] = []
    regions: list[OpenListBallot] = []
    for r in ballots.regions:
        if r.region in per_region:
            regions.append(r)
            tallies.append(r.decode(per_region[r.region]))
    parliament: dict[str, Any]
    try:
        parliament = parliament_result(regions, tallies, ballots.seats).to_json()
    except SeatAllocationError as exc:
        parliament = {"undecided": exc.message}
    return {
        "presidential": president,
        "parliament": parliament,
        "regions": [t.to_json() for t in tallies],
    }
