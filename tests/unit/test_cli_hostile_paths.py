"""Paths that are not what a command expects end in one line and exit code 2, not a
traceback: a sub-directory named ``x.bel`` beside (or instead of) the archive, a demo
directory that is a file or lies under one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.service.election_run import Stop
from viche.testing.factories import make_election, plan_for


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run, _ = make_election(
        tmp_path_factory.mktemp("paths") / "e", plan_for(voters=1, stop=Stop.CLOSED)
    )
    return run.archive


def _one_line_error(stderr: str, fragment: str) -> None:
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("error [V9") and fragment in stderr, stderr


def test_verify_a_directory_holding_only_a_directory_named_bel(tmp_path: Path) -> None:
    (tmp_path / "x.bel").mkdir()
    run = run_cli("verify", str(tmp_path))
    assert run.code == 2
    _one_line_error(run.stderr, "found 0")


def test_verify_skips_a_directory_named_bel_beside_the_archive(
    archive: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.bel").mkdir()
    shutil.copy(archive, tmp_path / "b.bel")
    run = run_cli("verify", str(tmp_path), "--jobs", "1")
    assert run.code == 0, run.stdout + run.stderr
    assert "all checks passed" in run.stdout


def test_election_commands_skip_a_directory_named_bel(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "x.bel").mkdir()
    run = run_cli("tally", "result", "--dir", str(tmp_path))
    assert run.code == 2
    _one_line_error(run.stderr, ".bel archive")
    shutil.copy(archive, tmp_path / "y.bel")
    run = run_cli("tally", "result", "--dir", str(tmp_path))
    assert run.code == 2  # the archive is found: the vote is closed but nothing is decrypted
    assert ".bel archive" not in run.stderr and run.stderr.count("\n") == 1


@pytest.mark.parametrize("sub", ["", "sub"])
def test_demo_directory_that_is_a_file_or_under_one(tmp_path: Path, sub: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    run = run_cli("demo", "--voters", "1", "--threshold", "none", "--dir", str(afile / sub))
    assert run.code == 2
    _one_line_error(run.stderr, "demo directory")
    assert afile.read_text() == "keep me"


def test_demo_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "other").write_text("x")
    run = run_cli("demo", "--voters", "1", "--threshold", "none", "--dir", str(tmp_path))
    assert run.code == 2
    _one_line_error(run.stderr, "must be empty")
