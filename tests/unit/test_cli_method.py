"""``viche method``: belenios-tool's input and output layout, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from viche.testing.cli import run_cli


def test_method_commands_print_one_json_line(tmp_path: Path) -> None:
    ballots = tmp_path / "b.json"
    ballots.write_text("[[1,2,3],[2,1,3],[1,3,2],[3,1,2],[0,0,0]]\n")
    run = run_cli("method", "schulze", "--blank-allowed", str(ballots))
    assert run.code == 0, run.stderr
    assert run.stdout.count("\n") == 1
    assert json.loads(run.stdout) == {
        "valid": 4,
        "blank": 1,
        "raw": [[0, 2, 3], [2, 0, 3], [1, 1, 0]],
        "beatpaths": [[[0, 0], [0, 0], [3, 1]], [[0, 0], [0, 0], [3, 1]], [[0, 0]] * 3],
        "winners": [[0, 1], [2]],
    }
    mj = run_cli("method", "majority-judgment", "--ngrades", "3", str(ballots))
    assert json.loads(mj.stdout)["invalid"] == [[0, 0, 0]]
    stv = run_cli("method", "stv", "--nseats", "2", str(ballots))
    assert json.loads(stv.stdout)["winners"] == [0, 1]


def test_method_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[[1,2],[1]]")
    run = run_cli("method", "schulze", str(bad))
    assert run.code == 2 and run.stdout == ""
    assert "1 entries where 2 were expected" in run.stderr and str(bad) in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    negative = tmp_path / "neg.json"
    negative.write_text("[[1,-2]]")
    assert run_cli("method", "stv", "--nseats", "1", str(negative)).code == 2
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert run_cli("method", "schulze", str(empty)).code == 2
    # an empty list is a valid STV count: nobody is elected
    assert json.loads(run_cli("method", "stv", "--nseats", "1", str(empty)).stdout)["winners"] == []
    assert run_cli("method", "schulze", str(tmp_path / "absent.json")).code == 2
