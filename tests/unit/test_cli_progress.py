"""The CLI's one progress display: stages drawn on a terminal, as text, nothing elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from viche.cli.progress import progress, progress_bar, spinner


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_stages_are_drawn_with_their_counts() -> None:
    console, buffer = _terminal()
    with progress(console=console, refresh_thread=False) as update:
        update("ballots", 3, 10)
        update("tally", 1, 2)
        update("ballots", 10, 10)
    text = buffer.getvalue()
    assert "ballots" in text and "10/10" in text
    assert "tally" in text and "1/2" in text


def test_stage_names_are_text_not_markup() -> None:
    console, buffer = _terminal()
    with progress_bar("[bold]x[/] [/]", 2, console=console) as update:
        update(1)
    assert "[bold]x[/] [/]" in buffer.getvalue()


def test_nothing_is_drawn_when_stderr_is_not_a_terminal() -> None:
    """Failure twin: the same stages on a pipe leave no trace."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    with progress(console=console) as update:
        update("ballots", 3, 10)
    with spinner("loading", console=console):
        pass
    assert buffer.getvalue() == ""
