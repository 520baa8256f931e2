"""The command line's one progress display: Rich bars on stderr, gone when the work is done.

:func:`progress` yields ``update(stage, done, total)``; each new stage gets its own line (a
bar, or a pulsing bar with ``total=None`` while the amount of work is unknown). The other
two helpers are shapes of it: :func:`progress_bar` for one counted stage, :func:`spinner` for
one step of unknown length. Nothing is drawn when stderr is not a terminal. Stage names are
printed as text, never as Rich markup
(:func:`viche.cli.output.text_column`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TimeElapsedColumn,
)

from viche.cli.output import err as stderr_console
from viche.cli.output import text_column

StageUpdate = Callable[[str, int, int | None], None]


@contextmanager
def progress(
    *, console: Console | None = None, refresh_thread: bool = True
) -> Iterator[StageUpdate]:
    """Progress of the stages of one command; yields ``update(stage, done, total)``.

    ``refresh_thread=False`` redraws only on updates, with no background thread: for work that
    forks worker processes while the display is up (``viche verify``).
    """
    err = console if console is not None else stderr_console
    columns = (
        SpinnerColumn(),
        text_column(),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns,
        console=err,
        transient=True,
        disable=not err.is_terminal,
        auto_refresh=refresh_thread,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            task = tasks.get(stage)
            if task is None:
                task = tasks[stage] = bar.add_task(stage, total=total)
            bar.update(task, completed=done, total=total, refresh=not refresh_thread)

        yield update


@contextmanager
def progress_bar(
    description: str, total: int, *, console: Console | None = None
) -> Iterator[Callable[[int], None]]:
    """One counted stage; yields ``update(done)``."""
    with progress(console=console) as update:
        update(description, 0, total)
        yield lambda done: update(description, done, total)


@contextmanager
def spinner(text: str, *, console: Console | None = None) -> Iterator[None]:
    """One step of unknown length, shown while the block runs."""
    with progress(console=console) as update:
        update(text, 0, None)
        yield
