"""Everything ``viche`` prints goes through the consoles made here.

What is printed often comes from outside (an archive's event types and keys, a question, a
path, a malformed row): it is printed as text, never read as Rich markup or emoji codes, so
``[/x]`` cannot crash a command and ``[bold]`` is not swallowed. Styles are given as data
(:func:`styled`, :func:`line`), never as markup tags inside strings; progress columns are
made by :func:`text_column`, which does not read markup either. Nor does the terminal read
it: the characters it would act on (ESC of an escape sequence, other control characters,
bidirectional overrides) and those it cannot show (a file name's bytes that are not UTF-8)
are printed as their escapes, ``\x1b`` (:func:`visible`).
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import IO, Any

from rich.console import Console, JustifyMethod, OverflowMethod
from rich.progress import TextColumn
from rich.style import Style
from rich.text import Text

#: C0 and C1 controls but new line and tab, bidirectional embeddings, overrides and
#: isolates, and lone surrogates (how Python reads the bytes of a name that is not UTF-8)
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def visible(text: str) -> str:
    """``text`` with each character of :data:`_HIDDEN` written as its Python escape."""
    return _HIDDEN.sub(lambda m: repr(m.group())[1:-1], text)


class _PlainConsole(Console):
    """A console whose strings pass through :func:`visible` (``styled`` and ``line`` do the
    same for the :class:`Text` they build)."""

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: Any = None,
    ) -> Text:
        return super().render_str(
            visible(text),
            style=style,
            justify=justify,
            overflow=overflow,
            emoji=emoji,
            markup=markup,
            highlight=highlight,
            highlighter=highlighter,
        )


def console(
    *, stderr: bool = False, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """A console that prints strings verbatim (no markup, no emoji codes, no highlighting)
    and never passes a control character of them to the terminal (:func:`visible`)."""
    return _PlainConsole(
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
    """``text`` in ``style``, verbatim (but :func:`visible`)."""
    return Text(visible(text), style=style)


def line(*parts: str | tuple[str, str]) -> Text:
    """One line from plain strings and ``(text, style)`` pairs, every part verbatim (but
    :func:`visible`)."""
    return Text.assemble(
        *(visible(p) if isinstance(p, str) else (visible(p[0]), p[1]) for p in parts)
    )


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
