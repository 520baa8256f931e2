"""Elections of several shapes, run end to end by each implementation and verified by both.

* Run by Viche (every role through :mod:`viche.service`, as ``viche`` does): the archive must
  pass ``belenios-tool election verify`` and ``viche verify``, and the result must be the one
  the plaintext votes give.
* Run by belenios-tool (the harness ``make_election.sh``): ``viche verify`` must pass and find
  the result belenios-tool computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viche.crypto.group import RFC_3526_2048
from viche.protocol.election import ElectionTemplate
from viche.service.election_run import ElectionPlan
from viche.testing.belenios import run_harness, tool_verifies
from viche.testing.cli import run_cli
from viche.testing.factories import expected, make_election, plan_for, template_from

pytestmark = pytest.mark.interop

YES_NO = ElectionTemplate.from_json(
    {
        "description": "Matrix",
        "name": "Yes or no",
        "questions": [{"answers": ["Yes", "No"], "min": 0, "max": 1, "question": "Agree?"}],
    }
)


def _plan(name: str, harness: Path) -> ElectionPlan:
    simple = template_from(harness / "templates" / "simple.json")
    large = template_from(harness / "templates" / "large.json")
    if name == "one-voter":
        return plan_for(voters=1, seed=name)
    if name == "plain-weights-blank-revotes":
        return plan_for(
            template=simple, weights=[1, 3, 2, 5, 1], blank_votes=2, revotes=2, singles=2,
            seed=name,
        )  # fmt: skip
    if name == "threshold-absent-trustee":
        # 1 Single + Pedersen 2 of 3; ids 2, 3, 4 are the Pedersen trustees; 2 is absent
        return plan_for(
            template=simple, voters=6, blank_votes=1, revotes=2, singles=1, threshold=(2, 3),
            decrypting=[1, 3, 4], seed=name,
        )  # fmt: skip
    if name == "threshold-only-3of4":
        return plan_for(voters=4, revotes=1, singles=0, threshold=(3, 4), decrypting=[1, 2, 4],
                        seed=name)  # fmt: skip
    if name == "fifty-voters":
        return plan_for(template=YES_NO, voters=50, revotes=3, seed=name)
    if name == "ten-questions":
        return plan_for(template=large, voters=2, blank_votes=1, seed=name)
    if name == "rfc-group":
        return plan_for(template=simple, voters=2, blank_votes=1, revotes=1, group=RFC_3526_2048,
                        seed=name)  # fmt: skip
    raise AssertionError(name)


VICHE_RUN = [
    "one-voter",
    "plain-weights-blank-revotes",
    "threshold-absent-trustee",
    "threshold-only-3of4",
    "fifty-voters",
    "ten-questions",
    "rfc-group",
]


@pytest.mark.parametrize("name", VICHE_RUN)
def test_viche_election_passes_belenios_tool(
    name: str, belenios_tool: str, belenios_harness: Path, tmp_path: Path
) -> None:
    plan = _plan(name, belenios_harness)
    run, _ = make_election(tmp_path / "e", plan, seed=name)
    ok, err = tool_verifies(belenios_tool, run.archive.parent)
    assert ok, err
    report = run_cli("verify", "--json", str(run.archive.parent))
    assert report.code == 0, report.stdout[-2000:]
    data = json.loads(report.stdout)
    assert data["ok"] is True
    assert data["result"] == expected(run, plan)
    assert len(data["result"]) == len(plan.template.questions)


def test_a_tampered_viche_election_fails_both(
    belenios_tool: str, belenios_harness: Path, tmp_path: Path
) -> None:
    """Failure twin: the published result of a Viche election edited (and re-chained by
    rewriting the archive) is rejected by both verifiers."""
    from viche.record import ArchiveWriter, read_archive

    run, _ = make_election(tmp_path / "e", _plan("one-voter", belenios_harness), seed="t")
    record = read_archive(run.archive)
    forged = tmp_path / "forged"
    forged.mkdir()
    w = ArchiveWriter.create(
        forged / run.archive.name, record.timestamp, record.election, record.trustees,
        record.public_credentials,
    )  # fmt: skip
    for ev in record.events[1:]:
        lines = [m.raw for m in ev.data]
        if ev.type.value == "Result":
            res = json.loads(lines[0])
            res["result"][0][0] += 1
            lines = [json.dumps(res, separators=(",", ":")).encode()]
        w.append(ev.type, lines)
    ok, _ = tool_verifies(belenios_tool, forged)
    assert not ok
    report = run_cli("verify", "--json", str(forged))
    assert report.code == 1
    assert json.loads(report.stdout)["ok"] is False


HARNESS_RUN = [
    ("plain-weighted-revotes", 4, 2, 0, "simple", {"WEIGHTED": "1", "REVOTES": "2"}),
    ("threshold-2of3-absent", 3, 3, 2, "simple", {"DECRYPT_SET": "1 3", "REVOTES": "1"}),
    ("ten-questions", 2, 1, 0, "large", {}),
]


@pytest.mark.parametrize(
    ("name", "voters", "trustees", "threshold", "template", "env"),
    HARNESS_RUN,
    ids=[h[0] for h in HARNESS_RUN],
)
def test_belenios_election_passes_viche_verify(
    name: str,
    voters: int,
    trustees: int,
    threshold: int,
    template: str,
    env: dict[str, str],
    belenios_tool: str,
    belenios_harness: Path,
    tmp_path: Path,
) -> None:
    election = run_harness(
        belenios_harness, tmp_path / name, voters=voters, trustees=trustees,
        threshold=threshold, template=template, env=env, belenios_tool=belenios_tool,
    )  # fmt: skip
    report = run_cli("verify", "--json", str(election.archive))
    assert report.code == 0, report.stdout[-2000:]
    data = json.loads(report.stdout)
    assert data["ok"] is True
    assert data["result"] == election.result
