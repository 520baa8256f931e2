"""Review fix: text that comes from input (JSON keys, answers, questions) is printed as is,
never interpreted as Rich markup (a '[/x]' used to crash the CLI with a MarkupError)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.cli import election as cli_election
from viche.cli.output import console
from viche.service.tally import QuestionResult


def test_path_that_looks_like_markup_is_printed_verbatim(tmp_path: Path) -> None:
    run = run_cli("setup", "make-trustees", "--dir", str(tmp_path / "[/x]"))
    assert run.code == 2
    assert "[/x]" in run.stderr
    assert run.stderr.count("\n") == 1


def test_duplicate_key_named_like_a_closing_tag(tmp_path: Path) -> None:
    certs = tmp_path / "certs.jsons"
    certs.write_text('{"[/x]":1,"[/x]":2}\n')
    run = run_cli("setup", "threshold", "step2", "--certs", str(certs))
    assert run.code == 2
    assert "duplicate key '[/x]'" in run.stderr
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize("text", ["[/x]", "[red]b", "[bold]"])
def test_result_tables_print_answers_verbatim(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr(cli_election, "out", console(file=buf, width=200))
    rows: list[object] = [
        QuestionResult(f"q {text}", ("a", text), (1, 2), 3),
        QuestionResult("nh", (text, "b"), (), None, ballots=((1, 2),)),
    ]
    cli_election.print_result(rows, "result")
    printed = buf.getvalue()
    assert f"q {text}" in printed
    assert printed.count(text) >= 3


def test_success_messages_print_paths_verbatim(tmp_path: Path) -> None:
    directory = tmp_path / "[red]x"
    directory.mkdir()
    run = run_cli("setup", "generate-trustee-key", "--dir", str(directory))
    assert run.code == 0, run.stderr
    (pub,) = directory.glob("*.pubkey")
    (directory / "public_keys.jsons").write_bytes(pub.read_bytes())
    run = run_cli("setup", "make-trustees", "--dir", str(directory))
    assert run.code == 0, run.stderr
    assert f"trustees saved to {directory / 'trustees.json'}" in run.stdout
