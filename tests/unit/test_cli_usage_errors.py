"""Usage errors found by Typer (unknown command or option, missing argument, bad value) are
one line on stderr and exit code 2, like every other error; help still works."""

from __future__ import annotations

import pytest

from support.cli import run_cli


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("verify",), "Missing argument 'path'; see 'viche verify --help'"),
        (("verify", "x", "--bogus"), "No such option: --bogus"),
        (("no-such-command",), "No such command 'no-such-command'; see 'viche --help'"),
        (("setup", "no-such-command"), "see 'viche setup --help'"),
        (("verify", "x", "--jobs", "0"), "'--jobs'"),
        (("verify", "x", "--jobs", "[/x]"), "'--jobs'"),
        (("monitor", "ingest", "f", "--store", "s", "--format", "[bold]"), "'[bold]'"),
        (("monitor", "watch", "--store", "s", "--scan-every", "-1"), "'--scan-every'"),
        (("monitor", "watch", "--store", "s", "--cycles", "0"), "'--cycles'"),
    ],
)
def test_usage_error_is_one_line_with_exit_2(argv: tuple[str, ...], fragment: str) -> None:
    run = run_cli(*argv)
    assert run.code == 2
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error [V9000] ") and fragment in run.stderr, run.stderr
    assert "╭" not in run.stderr and run.stdout == ""


@pytest.mark.parametrize("argv", [("--help",), ("verify", "--help"), ("monitor", "--help")])
def test_help_is_printed_with_exit_0(argv: tuple[str, ...]) -> None:
    run = run_cli(*argv)
    assert run.code == 0 and run.stderr == ""
    assert "Usage" in run.stdout


@pytest.mark.parametrize("argv", [(), ("setup",), ("monitor",)])
def test_a_group_without_command_prints_its_help_with_exit_2(argv: tuple[str, ...]) -> None:
    run = run_cli(*argv)
    assert run.code == 2 and run.stderr == ""
    assert "Usage" in run.stdout


def test_a_command_that_runs_exits_0() -> None:
    run = run_cli("setup", "generate-token")
    assert run.code == 0 and run.stderr == ""
    assert len(run.stdout.strip()) == 14


def test_version() -> None:
    run = run_cli("--version")
    assert run.code == 0 and run.stdout.startswith("viche ")
