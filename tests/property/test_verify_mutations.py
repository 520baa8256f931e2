"""Archive mutations, property-tested: a well-formed edit of a reference archive (re-hashed
and re-chained, so only the edit is left to find) never makes ``viche verify`` crash (exit
code 0, 1 or 2 only, through the command's entry point) and never makes it accept a result
other than the one the election produced. The longer campaign is ``bench/fuzz_verify``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.archive_mutation import mutate
from support.cli import run_cli
from viche.service.election_run import ElectionRun
from viche.testing.archive_edit import Members, rebuild, split
from viche.testing.factories import make_election, plan_for

#: bounded: each example verifies a small archive (~0.1 s); bench/fuzz_verify runs more
EXAMPLES = 30


@pytest.fixture(scope="module")
def election(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    run, _ = make_election(tmp_path_factory.mktemp("fuzz") / "e", plan_for(voters=2))
    return run


def _verify(data: bytes) -> tuple[int, dict[str, object] | None, str]:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "x.bel").write_bytes(data)
        run = run_cli("verify", d, "--jobs", "1", "--json")
    report = json.loads(run.stdout) if run.stdout.startswith("{") else None
    return run.code, report, run.stderr


def _result_of(members: Members) -> object:
    """The result the election published (its Result member)."""
    content = next(c for _, c in members if c.startswith(b'{"result":'))
    return json.loads(content)["result"]


def test_the_reference_archive_passes_with_its_result(election: ElectionRun) -> None:
    members, mtime = split(election.archive)
    code, report, err = _verify(rebuild(members, mtime))
    assert code == 0, err
    assert report is not None and report["result"] == _result_of(members)


def test_a_changed_result_is_refused(election: ElectionRun) -> None:
    members, mtime = split(election.archive)
    i = next(k for k, (_, c) in enumerate(members) if c.startswith(b'{"result":'))
    result = json.loads(members[i][1])
    result["result"][0][0] += 1
    members[i] = (members[i][0], json.dumps(result, separators=(",", ":")).encode())
    code, _, err = _verify(rebuild(members, mtime))
    assert code == 1, err


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_verify_never_crashes_nor_accepts_a_changed_result(
    election: ElectionRun, data: st.DataObject
) -> None:
    members, mtime = split(election.archive)
    original = _result_of(members)
    changed, what = mutate(data, members)
    code, report, err = _verify(rebuild(changed, mtime))
    assert code in {0, 1, 2}, f"{what}: exit {code}\n{err}"
    if code == 0:
        assert report is not None
        assert report["result"] in (None, original), what
