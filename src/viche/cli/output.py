"""Everything ``viche`` prints goes through the consoles made here.

What is printed often comes from outside (an archive's event types and keys, a question, a
path, a malformed row): it is printed as text, never read as Rich markup or emoji codes, so
``[/x]`` cannot crash a command and ``[bold]`` is not swallowed. Styles are given as data
(:func:`styled`, :func:`line`), never as markup tags inside strings; progress columns are
made by :func:`text_column`, which does not read markup either.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import TextColumn
from rich.text import Text


def console(
    *, stderr: bool = False, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """A console that prints strings verbatim (no markup, no emoji codes, no highlighting)."""
    return Console(
        stderr=stderr,
        file=file,
        width=width,
        markup=False,
        emoji=False,
        highlight=False,
        soft_wrap=True,
    )


#: standard output (results, reports) and standard error (errors, warnings, progress)
out = console()
err = console(stderr=True)


def styled(text: str, style: str) -> Text:
    """``text`` in ``style``, verbatim."""
    return Text(text, style=style)


def line(*parts: str | tuple[str, str]) -> Text:
    """One line from plain strings and ``(text, style)`` pairs, every part verbatim."""
    return Text.assemble(*parts)


def text_column(
    template: str = "{task.description}", style: str = "progress.description"
) -> TextColumn:
    """A progress column showing ``template`` (formatted with the task) as text."""
    return TextColumn(template, style=style, markup=False)


def command_name() -> str:
    """``viche`` as the user can type it again: ``viche`` when PATH finds the program that
    runs, else the path the user ran it by (``.venv/bin/viche``, a venv not activated), so
    that a command printed for the user to run works as printed."""
    ran = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if ran is None or ran.name != "viche":
        return "viche"
    found = shutil.which("viche")
    if found is not None and Path(found).resolve() == ran.resolve():
        return "viche"
    return shlex.quote(sys.argv[0])
