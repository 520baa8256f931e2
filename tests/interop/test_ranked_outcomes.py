"""A ranked election end to end: its questions tallied through shuffles are counted by
Condorcet-Schulze, STV and majority judgment in ``viche tally result``, recounted by
``viche verify``, and each outcome agrees with ``belenios-tool method`` on the decrypted
ballots of the Result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.belenios import tool
from support.cli import run_cli
from viche.crypto.group import RFC_3526_2048
from viche.record import read_archive, resolve_archive
from viche.record.sql import SqlBoard
from viche.service.election_run import ElectionRun, Stop, Vote
from viche.service.hosting import Host
from viche.service.mirror import sync_board
from viche.service.setup import read_template
from viche.testing.factories import make_election, plan_for
from viche.web.app import create_app

pytestmark = pytest.mark.interop

# question 1 yes/no; question 2 ranks 4 colours (1 best; a prefix is a valid STV ballot);
# question 3 grades 3 cities 1 (best) to 5, 0 for no opinion (an invalid MJ ballot)
VOTES = [
    [[1, 0], [1, 2, 3, 4], [1, 2, 5]],
    [[0, 1], [2, 1, 3, 4], [2, 1, 4]],
    [[1, 0], [1, 3, 2, 0], [1, 3, 3]],
    [[1, 0], [3, 1, 2, 4], [2, 2, 0]],
    [[0, 1], [1, 2, 0, 0], [1, 4, 5]],
    [[1, 0], [4, 3, 1, 2], [3, 1, 2]],
]


@pytest.fixture(scope="module")
def decrypted(templates_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    """The harness's NH election, shuffled and decrypted by 2 Single trustees (no Result)."""
    plan = plan_for(
        template=read_template(templates_dir / "nh.json"),
        group=RFC_3526_2048,
        votes=[Vote(i, v) for i, v in enumerate(VOTES)],
        voters=len(VOTES),
        singles=2,
        stop=Stop.DECRYPTED,
    )
    run, _ = make_election(tmp_path_factory.mktemp("ranked") / "e", plan, seed="ranked")
    return run


def _tool_method(belenios_tool: str, args: list[str], ballots: list[list[int]]) -> Any:
    done = tool(belenios_tool, "method", *args, stdin=json.dumps(ballots).encode())
    return json.loads(done.stdout)


def _groups(result: dict[str, Any]) -> list[list[int]]:
    return [sorted(g) for g in result["winners"]]


def test_tally_result_counts_ranked_questions_as_belenios_tool(
    decrypted: ElectionRun, belenios_tool: str, tmp_path: Path
) -> None:
    d = tmp_path / "archive"
    shutil.copytree(decrypted.archive.parent, d)
    saved = tmp_path / "outcomes.json"
    res = run_cli("tally", "result", "--dir", str(d), "--seats", "2", "--grades", "3=5",
                  "--save-outcomes", str(saved))  # fmt: skip
    assert res.code == 0, res.stderr
    for text in ("Condorcet-Schulze", "single transferable vote (2 seat(s))",
                 "majority judgment (5 grades"):  # fmt: skip
        assert text in res.stdout
    record = read_archive(resolve_archive(d))
    assert record.result is not None
    published = json.loads(record.result.raw)["result"]
    found = json.loads(saved.read_text())
    assert [q["question"] for q in found["questions"]] == [2, 3]
    for q in found["questions"]:
        ballots = published[q["question"] - 1]
        assert sorted(map(tuple, ballots)) == sorted(tuple(v[q["question"] - 1]) for v in VOTES)
        n = len(ballots[0])
        schulze = _tool_method(
            belenios_tool, ["schulze", f"--nchoices={n}", "--blank-allowed=false"], ballots
        )
        assert _groups(q["schulze"]) == _groups(schulze)
        assert q["schulze"]["raw"] == schulze["raw"]
        stv = _tool_method(belenios_tool, ["stv", "--nseats=2"], ballots)
        assert {k: v for k, v in q["stv"].items() if k != "seats"} == stv
        grades = q["majority-judgment"]["grades"]
        assert grades == (5 if q["question"] == 3 else 4)
        mj = _tool_method(
            belenios_tool,
            [
                "majority-judgment",
                f"--nchoices={n}",
                f"--ngrades={grades}",
                "--blank-allowed=false",
            ],
            ballots,
        )
        ours = q["majority-judgment"]
        assert _groups(ours) == _groups(mj) and ours["raw"] == mj["raw"]
        assert sorted(ours["invalid"]) == sorted(mj["invalid"])
    # a method chosen alone
    again = tmp_path / "again"
    shutil.copytree(decrypted.archive.parent, again)
    only = run_cli("tally", "result", "--dir", str(again), "--outcomes", "schulze")
    assert only.code == 0 and "Condorcet-Schulze" in only.stdout
    assert "transferable" not in only.stdout and "majority" not in only.stdout
    bad = run_cli("tally", "result", "--dir", str(tmp_path / "again"), "--outcomes", "borda")
    assert bad.code == 2 and "borda" in bad.stderr

    # viche verify recounts the outcomes from the Result, and checks a published file
    done = run_cli("verify", str(d), "--jobs", "1", "--json", "--published-outcomes", str(saved))
    assert done.code == 0, done.stdout
    report = json.loads(done.stdout)
    (check,) = [c for c in report["checks"] if c["name"] == "outcomes"]
    assert check["status"] == "passed" and "Result event" in check["note"]
    default = report["outcomes"]["questions"]
    assert [q["stv"]["seats"] for q in default] == [1, 1]
    assert default[0]["schulze"] == found["questions"][0]["schulze"]
    table = run_cli("verify", str(d), "--jobs", "1")
    assert table.code == 0 and "Condorcet-Schulze" in table.stdout
    lie = json.loads(saved.read_text())
    lie["questions"][0]["stv"]["winners"] = lie["questions"][0]["stv"]["winners"][::-1]
    saved.write_text(json.dumps(lie))
    false = run_cli("verify", str(d), "--jobs", "1", "--json", "--published-outcomes", str(saved))
    assert false.code == 1
    (check,) = [c for c in json.loads(false.stdout)["checks"] if c["name"] == "outcomes"]
    assert check["failures"][0]["code"] == "V3006" and check["failures"][0]["question"] == 2


def test_the_result_endpoint_gives_the_outcomes(decrypted: ElectionRun, tmp_path: Path) -> None:
    """The ranked record served (as a mirror serves it): GET …/result counts as the CLI."""
    d = tmp_path / "archive"
    shutil.copytree(decrypted.archive.parent, d)
    saved = tmp_path / "outcomes.json"
    res = run_cli("tally", "result", "--dir", str(d), "--seats", "2", "--save-outcomes", str(saved))
    assert res.code == 0, res.stderr
    board = SqlBoard.open(f"sqlite:///{tmp_path / 'board.sqlite'}")
    try:
        sync_board(board, resolve_archive(d), "key")
        with TestClient(create_app(Host(board, tmp_path / "keys"), read_only=True)) as client:
            base = f"/api/v1/elections/{decrypted.uuid}/result"
            got = client.get(base, params={"seats": 2}).json()
            assert got["outcomes"] == json.loads(saved.read_text())
            assert got["questions"][0]["ballots"] is None
            assert sorted(map(tuple, got["questions"][1]["ballots"])) == sorted(
                tuple(v[1]) for v in VOTES
            )
            only = client.get(base, params={"outcomes": "mj", "grades": 6}).json()["outcomes"]
            assert [set(q) for q in only["questions"]] == [{"question", "majority-judgment"}] * 2
            assert only["questions"][0]["majority-judgment"]["grades"] == 6
            for bad in ({"outcomes": "borda"}, {"seats": 0}, {"grades": "x"}):
                r = client.get(base, params=bad)
                assert r.status_code == 400 and r.json()["code"].startswith("V1"), r.text
    finally:
        board.close()


def test_tally_result_of_a_published_result_counts_it_again(
    decrypted: ElectionRun, tmp_path: Path
) -> None:
    """A served election's record holds its Result (the server published it): an observer
    or the commission runs ``viche tally result`` on the downloaded archive, with seats of
    their own, and gets the same result and the outcomes; nothing is appended."""
    d = tmp_path / "archive"
    shutil.copytree(decrypted.archive.parent, d)
    first = run_cli("tally", "result", "--dir", str(d))
    assert first.code == 0, first.stderr
    before = resolve_archive(d).read_bytes()
    again = run_cli("tally", "result", "--dir", str(d), "--seats", "2")
    assert again.code == 0, again.stderr
    assert resolve_archive(d).read_bytes() == before
    assert "already in the record" in again.stdout + again.stderr
    assert "single transferable vote (2 seat(s))" in again.stdout
    shown = [ln for ln in first.stdout.splitlines() if "transferable" not in ln]
    assert all(line in again.stdout for line in shown if "seat" not in line)
