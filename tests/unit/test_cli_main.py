from __future__ import annotations

import pytest

from viche.cli import main as cli_main
from viche.errors import Location, UsageError
from viche.service.demo import parse_threshold


@pytest.mark.parametrize("text", ["²/3", "2/３", "2/3/4", "x/3", "", "3/2", "0/3", "2/21"])
def test_demo_threshold_refuses(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_threshold(text)
    assert str(info.value.where) == "--threshold"


def test_demo_threshold_accepts() -> None:
    assert parse_threshold("2/3") == (2, 3)
    assert parse_threshold(" 1 / 1 ") == (1, 1)
    assert parse_threshold("none") is None


def test_internal_error_exits_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(cli_main, "app", boom)
    with pytest.raises(SystemExit) as info:
        cli_main.main([])
    assert info.value.code == cli_main.EXIT_INTERNAL
    assert "bug in Viche" in capsys.readouterr().err


def test_viche_error_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise UsageError("the ballot file is empty", where=Location(file="[red]ballot.json"))

    monkeypatch.setattr(cli_main, "app", refuse)
    with pytest.raises(SystemExit) as info:
        cli_main.main([])
    assert info.value.code == cli_main.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "[V9000] the ballot file is empty (at [red]ballot.json)" in err
