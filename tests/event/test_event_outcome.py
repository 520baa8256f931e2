"""The Electoral Code's outcome of an event from its per-style results (no election run)."""

from __future__ import annotations

from viche.event.ballots import OpenListBallot, PartyList
from viche.event.outcome import EventBallots, event_outcome

R1 = OpenListBallot("R01", (PartyList("A", ("a1", "a2")), PartyList("B", ("b1",))))
R2 = OpenListBallot("R02", (PartyList("A", ("a3",)), PartyList("B", ("b2", "b3"))))
BALLOTS = EventBallots(("X", "Y", "Z"), 4, (R1, R2), {"c01": "R01", "c02": "R01", "c03": "R02"})


def test_regions_add_up_their_styles_and_seats_follow() -> None:
    results = {
        "c01": [[3, 1, 0], [1, 2, 0, 1, 0]],  # R01 answers: A, A-a1, A-a2, B, B-b1
        "c02": [[2, 0, 1], [0, 1, 0, 1, 1]],
        "c03": [[0, 1, 1], [0, 0, 1, 1, 0]],  # R02 answers: A, A-a3, B, B-b2, B-b3
    }
    out = event_outcome(BALLOTS, results)
    assert out["presidential"]["votes"] == {"X": 5, "Y": 2, "Z": 2}
    assert out["presidential"]["winner"] == "X"  # 5 of 9: more than half
    regions = {r["region"]: r["party_votes"] for r in out["regions"]}
    assert regions == {"R01": {"A": 4, "B": 3}, "R02": {"A": 0, "B": 2}}
    seats = {p["party"]: p["seats"] for p in out["parliament"]["allocation"]["parties"]}
    # quota 9/4: A 4 votes -> 1 + remainder 7/9, B 5 votes -> 2 + 2/9: the last seat to A
    assert seats == {"A": 2, "B": 2}


def test_a_tie_for_the_repeat_vote_is_published_as_undecided() -> None:
    results = {
        "c01": [[1, 1, 1], [1, 0, 0, 0, 0]],
        "c02": [[0, 0, 0], [0, 0, 0, 0, 0]],
        "c03": [[0, 0, 0], [0, 0, 1, 0, 0]],
    }
    out = event_outcome(BALLOTS, results)
    assert "tie" in out["presidential"]["undecided"]
    assert out["presidential"]["votes"] == {"X": 1, "Y": 1, "Z": 1}
    assert "allocation" in out["parliament"]
