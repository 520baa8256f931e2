"""``viche demo``: a complete election on the command line, verified at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from viche.record import read_archive
from viche.testing.cli import run_cli


def test_demo_runs_every_role_and_verifies(tmp_path: Path) -> None:
    d = tmp_path / "demo"
    run = run_cli("demo", "--voters", "3", "--seed", "demo-test", "--dir", str(d))
    assert run.code == 0, run.stderr
    for role in ("credential authority", "trustees", "administrator", "voters", "auditor"):
        assert role in run.stdout
    assert "re-vote" in run.stdout and "absent: 3" in run.stdout
    assert "Verified result" in run.stdout and "blank" in run.stdout
    assert "none failed" in run.stdout
    assert "matches the plaintext votes" in run.stdout
    (bel,) = (d / "archive").glob("*.bel")
    assert bel.name in run.stdout.replace("\n", "").replace(" ", "").replace("│", "")
    record = read_archive(bel)
    assert len(record.ballots) == 4  # 3 voters + 1 re-vote
    assert len(record.partial_decryptions) == 2  # 2 of 3 trustees
    assert record.result is not None


def test_demo_with_single_trustees(tmp_path: Path) -> None:
    run = run_cli("demo", "--voters", "1", "--threshold", "none", "--dir", str(tmp_path / "d"))
    assert run.code == 0, run.stderr
    assert "2 Single key(s)" in run.stdout
    assert "matches the plaintext votes" in run.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--threshold", "3/2"], "1 <= T <= N"),
        (["--threshold", "two"], "expected T/N"),
        (["--voters", "0"], "at least one voter"),
        (["--template", "nope.json"], "not found"),
    ],
)
def test_demo_bad_options(tmp_path: Path, args: list[str], fragment: str) -> None:
    d = tmp_path / "d"
    run = run_cli("demo", "--dir", str(d), *args)
    assert run.code == 2
    assert fragment in run.stderr
    assert not d.exists() or not any(d.iterdir())


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    run = run_cli("demo", "--voters", "1", "--dir", str(tmp_path))
    assert run.code == 2 and "must be empty" in run.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
