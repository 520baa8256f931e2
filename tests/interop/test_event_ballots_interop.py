"""The open regional list and the presidential ballot are plain Belenios questions: an election
with both, run by Viche, passes belenios-tool, and its tally decodes to party, preference and
candidate votes that equal the plaintext intent."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.belenios import tool_verifies
from viche.event.ballots import (
    OpenListBallot,
    PartyList,
    decode_presidential,
    presidential_question,
)
from viche.event.seats import parliament_result
from viche.protocol.election import ElectionTemplate
from viche.service.election_run import Vote
from viche.testing.factories import make_election, plan_for

pytestmark = pytest.mark.interop


def test_open_list_and_presidential_election_passes_belenios_tool(
    belenios_tool: str, tmp_path: Path
) -> None:
    ballot = OpenListBallot(
        "R01",
        (PartyList("Alpha", ("a1", "a2")), PartyList("Beta", ("b1",))),
    )
    president = presidential_question(["Кандидат 1", "Кандидат 2", "Кандидат 3"])
    tpl = ElectionTemplate("Національні вибори", "R01", (president, ballot.question()))

    def one(n: int, i: int) -> list[int]:
        return [1 if j == i else 0 for j in range(n)]

    # (presidential choice, open-list answer index): Alpha alone, Alpha+a2, Beta+b1, ...
    intents = [(0, ballot.index("Alpha")), (0, ballot.index("Alpha", "a2")),
               (1, ballot.index("Beta", "b1")), (2, ballot.index("Alpha", "a2")),
               (0, ballot.index("Beta"))]  # fmt: skip
    votes = [Vote(i, [one(3, p), one(5, a)]) for i, (p, a) in enumerate(intents)]
    plan = plan_for(voters=len(intents), template=tpl, votes=votes, seed="event-ballots")
    run, _ = make_election(tmp_path / "e", plan, seed="event-ballots")
    ok, err = tool_verifies(belenios_tool, run.archive.parent)
    assert ok, err
    assert run.result is not None
    pres, lists = run.result
    assert decode_presidential(president.answers, list(pres.counts)) == {
        "Кандидат 1": 3,
        "Кандидат 2": 1,
        "Кандидат 3": 1,
    }
    tally = ballot.decode(list(lists.counts))
    assert tally.party_votes == {"Alpha": 3, "Beta": 2}
    assert tally.preferences == {"Alpha": {"a1": 0, "a2": 2}, "Beta": {"b1": 1}}
    result = parliament_result([ballot], [tally], seats=2)
    assert result.allocation.as_dict() == {"Alpha": 1, "Beta": 1}
    # a2 has 2 preference votes >= 25 % of the quota (5/2): a2 is elected before a1
    assert result.elected["Alpha"] == {"R01": ("a2",)}
