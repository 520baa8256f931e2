"""Every command of ``viche`` has help text, and ``--help`` works for each of them."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from viche.cli.main import app

runner = CliRunner()


def _walk(cmd: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``cmd`` (Typer vendors click, so groups are found by duck typing)."""
    out = [(path, cmd)]
    commands = getattr(cmd, "commands", None)
    if commands:
        for name, sub in sorted(commands.items()):
            out.extend(_walk(sub, (*path, name)))
    return out


COMMANDS = _walk(typer.main.get_command(app), ())
ELECTION_GROUPS = ("setup", "archive", "ballot", "tally", "demo")


def test_the_election_commands_are_registered() -> None:
    top = {path[0] for path, _ in COMMANDS if path}
    missing = [g for g in ELECTION_GROUPS if g not in top]
    assert missing == []


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "viche")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    cmd = dict(COMMANDS)[path]
    assert (cmd.help or "").strip(), f"viche {' '.join(path)} has no help text"
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = runner.invoke(app, ["setup", "no-such-command"])
    assert result.exit_code == 2
