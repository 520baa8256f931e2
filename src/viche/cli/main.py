"""The ``viche`` command.

Each family of commands lives in its own module and registers itself here. A command
parses its arguments, calls the library, and lets :func:`main` turn a
:class:`~viche.errors.VicheError` into a one-line message and an exit code:

* 0 success, 1 a check failed (verification), 2 bad usage or bad input, 3 internal error.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from viche import __version__
from viche.errors import UsageError, VerificationError, VicheError

app = typer.Typer(
    name="viche",
    help="Viche: verifiable elections (Belenios 2.0) and influence-campaign monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"viche {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Viche: verifiable elections (Belenios 2.0) and influence-campaign monitoring."""


def _register_all() -> None:
    from viche.cli import election, method, mirror, monitor, shuffle, verify

    election.register(app)
    method.register(app)
    mirror.register(app)
    monitor.register(app)
    verify.register(app)
    shuffle.register(app)


_register_all()


def exit_code_for(exc: VicheError) -> int:
    if isinstance(exc, VerificationError):
        return EXIT_CHECK_FAILED
    if isinstance(exc, UsageError):
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``viche`` console script.

    Usage errors are reported by Typer itself (exit code 2); a :class:`VicheError` from
    the library becomes one line on stderr and the exit code of :func:`exit_code_for`.
    """
    try:
        app(args=argv)
    except VicheError as exc:
        # The message may quote input (a JSON key, a uuid, a path): never read it as markup.
        err_console.print(f"[bold red]error[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exit_code_for(exc))
    except Exception:
        # A bug, not bad input: say so, keep the traceback for the report, exit 3.
        err_console.print_exception()
        err_console.print(
            "[bold red]internal error[/]: this is a bug in Viche, please report it with the "
            "traceback above",
            highlight=False,
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
