"""The ``viche`` command.

Each family of commands lives in its own module and registers itself here. A command
parses its arguments, calls the library, and lets :func:`main` turn a
:class:`~viche.errors.VicheError` into a one-line message and an exit code:

* 0 success, 1 a check failed (verification), 2 bad usage or bad input, 3 internal error.
"""

from __future__ import annotations

import sys

import typer

# Typer (>= 0.29) runs a copy of Click of its own; its usage errors are these classes.
from typer._click import exceptions as click_errors

from viche import __version__
from viche.cli.output import err, line
from viche.errors import UsageError, VerificationError, VicheError

app = typer.Typer(
    name="viche",
    help="Viche: verifiable elections (Belenios 2.0) and influence-campaign monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def _version_callback(value: bool) -> None:
    if value:
        from viche.crypto.fastexp import engine, ifma_variant

        typer.echo(f"viche {__version__}")
        variant = ifma_variant()
        timed = f" (IFMA variant here: {variant}, the faster of two by timing)" if variant else ""
        typer.echo(f"exponentiation engine: {engine()}{timed}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Viche: verifiable elections (Belenios 2.0) and influence-campaign monitoring."""


def _register_all() -> None:
    from viche.cli import (
        election,
        event,
        method,
        mirror,
        monitor,
        plan,
        roles,
        serve,
        shuffle,
        verify,
    )

    election.register(app)
    method.register(app)
    mirror.register(app)
    monitor.register(app)
    verify.register(app)
    shuffle.register(app)
    plan.register(app)
    serve.register(app)
    event.register(app)
    roles.register(app)


_register_all()


def exit_code_for(exc: VicheError) -> int:
    if isinstance(exc, VerificationError):
        return EXIT_CHECK_FAILED
    if isinstance(exc, UsageError):
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT


def _command_line_error(exc: click_errors.ClickException) -> UsageError:
    """A Typer/Click usage error (unknown option, missing argument, bad value) as one
    :class:`UsageError` line, naming the command's help."""
    message = exc.format_message().rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f"; see '{ctx.command_path} --help'"
    return UsageError(message)


def _run(argv: list[str] | None) -> int:
    """Run the command; Click's usage errors become :class:`UsageError`."""
    try:
        code = app(args=argv, prog_name="viche", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        # a command group named without a command: its help, as Typer prints it, exit 2
        typer.echo(exc.ctx.get_help())
        return EXIT_BAD_INPUT
    except click_errors.ClickException as exc:
        raise _command_line_error(exc) from None
    except typer.Abort:
        raise UsageError("aborted") from None
    return code if isinstance(code, int) else EXIT_OK


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``viche`` console script.

    A :class:`VicheError` from the library, or a usage error found by Typer, becomes one
    line on stderr and the exit code of :func:`exit_code_for`; anything else is a bug
    (traceback, exit code 3).
    """
    try:
        code = _run(argv)
    except VicheError as exc:
        # The message may quote input (a JSON key, a uuid, a path): printed verbatim.
        err.print(line(("error", "bold red"), f" {exc}"))
        sys.exit(exit_code_for(exc))
    except Exception:
        # A bug, not bad input: say so, keep the traceback for the report, exit 3.
        err.print_exception()
        err.print(
            line(
                ("internal error", "bold red"),
                ": this is a bug in Viche, please report it with the traceback above",
            )
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code)


if __name__ == "__main__":
    main()
