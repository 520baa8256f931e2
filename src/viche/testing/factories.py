"""Factories shared by the tests: complete elections run by Viche in a temporary directory.

``make_election(tmp_path, ...)`` plays every role through :mod:`viche.service` (the same code
as the command line) with seeded randomness and returns the run and its plan; the plan's
plaintext votes give the expected result (:func:`expected`).
"""

from __future__ import annotations

from pathlib import Path

from viche.crypto.group import BELENIOS_2048, Group
from viche.crypto.rng import SeededRandom
from viche.protocol.election import ElectionTemplate
from viche.service import credentials as creds
from viche.service.demo import DEMO_TEMPLATE
from viche.service.election_run import (
    ElectionPlan,
    ElectionRun,
    Stop,
    Vote,
    expected_result,
    random_choices,
    run_election,
)
from viche.service.setup import read_template


def template_from(path: Path | None) -> ElectionTemplate:
    return read_template(path) if path is not None else ElectionTemplate.from_json(DEMO_TEMPLATE)


def plan_for(
    *,
    voters: int = 3,
    template: ElectionTemplate | None = None,
    weights: list[int] | None = None,
    votes: list[Vote] | None = None,
    revotes: int = 0,
    blank_votes: int = 0,
    singles: int = 1,
    threshold: tuple[int, int] | None = None,
    decrypting: list[int] | None = None,
    stop: Stop = Stop.RESULT,
    group: Group = BELENIOS_2048,
    seed: str = "viche-tests",
) -> ElectionPlan:
    """A plan: each voter votes once (the first ``blank_votes`` of them blank), then
    ``revotes`` voters (1, 2, ... cyclically) vote again; or the explicit ``votes``."""
    rng = SeededRandom(f"plan|{seed}")
    tpl = template or ElectionTemplate.from_json(DEMO_TEMPLATE)
    if votes is None:
        votes = [Vote(i, random_choices(tpl, rng, blank=i < blank_votes)) for i in range(voters)]
        votes += [Vote(k % voters, random_choices(tpl, rng)) for k in range(revotes)]
    roll = (
        [
            creds.Voter(f"v{i}@example.org,v{i},{w}", f"v{i}@example.org", f"v{i}", w)
            for i, w in enumerate(weights)
        ]
        if weights is not None
        else creds.counted_voters(voters)
    )
    return ElectionPlan(
        template=tpl,
        group=group,
        voters=roll,
        votes=votes,
        singles=singles,
        threshold=threshold,
        decrypting=decrypting,
        stop=stop,
    )


def make_election(
    directory: Path, plan: ElectionPlan | None = None, seed: str = "viche-tests"
) -> tuple[ElectionRun, ElectionPlan]:
    """Run ``plan`` (default: ``plan_for()``) in ``directory`` with seeded randomness."""
    the_plan = plan if plan is not None else plan_for(seed=seed)
    run = run_election(directory, the_plan, SeededRandom(f"run|{seed}"))
    return run, the_plan


def expected(run: ElectionRun, plan: ElectionPlan) -> list[list[int]]:
    return expected_result(run.election, plan)
