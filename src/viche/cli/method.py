"""``viche method schulze|majority-judgment|stv``: the outcome of a non-homomorphic question.

Each command reads the decrypted ballots of one question (a JSON list of integer lists, from
a file or ``-`` for standard input, as ``belenios-tool method`` reads them) and prints the
result as one line of JSON in ``belenios-tool``'s layout, so that the two tools can be
compared line for line. The methods are described in :mod:`viche.protocol.methods`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

method_app = typer.Typer(
    name="method",
    help="Count the decrypted ballots of a ranked or graded question (Schulze, MJ, STV).",
    no_args_is_help=True,
)

BallotsArg = Annotated[
    Path,
    typer.Argument(help="JSON list of ballots (one integer list per ballot); '-' = stdin."),
]
BlankOpt = Annotated[
    bool, typer.Option("--blank-allowed/--no-blank", help="An all-zero ballot is blank.")
]
NChoicesOpt = Annotated[
    int, typer.Option("--nchoices", min=0, help="Number of answers (0: from the ballots).")
]


def _ballots(
    path: Path, nchoices: int, *, need_width: bool = True
) -> tuple[list[tuple[int, ...]], int]:
    """The ballots and the number of answers (required unless ``need_width`` is false)."""
    from viche.errors import Location, UsageError
    from viche.protocol.methods import parse_ballots
    from viche.service.files import read_json

    where = Location(file=str(path))
    ballots = parse_ballots(read_json(path, "ballots"), where, nchoices)
    n = nchoices or (len(ballots[0]) if ballots else 0)
    if n == 0 and need_width:
        raise UsageError("no ballots: give --nchoices", where=where)
    return ballots, n


def _print(result: dict[str, Any]) -> None:
    from viche.protocol.codec import dumps

    sys.stdout.write(dumps(result) + "\n")


@method_app.command("schulze")
def schulze_cmd(
    ballots: BallotsArg = Path("-"), blank_allowed: BlankOpt = False, nchoices: NChoicesOpt = 0
) -> None:
    """Condorcet-Schulze: each ballot gives a rank per answer (1 = best, 0 = unranked)."""
    from viche.protocol.methods import schulze

    parsed, n = _ballots(ballots, nchoices)
    _print(schulze(parsed, n, blank_allowed).to_json())


@method_app.command("majority-judgment")
def majority_judgment_cmd(
    ngrades: Annotated[int, typer.Option("--ngrades", min=1, help="Number of grades.")],
    ballots: BallotsArg = Path("-"),
    blank_allowed: BlankOpt = False,
    nchoices: NChoicesOpt = 0,
) -> None:
    """Majority judgment: each ballot grades every answer, 1 (best) to NGRADES."""
    from viche.protocol.methods import majority_judgment

    parsed, n = _ballots(ballots, nchoices)
    _print(majority_judgment(parsed, n, ngrades, blank_allowed).to_json())


@method_app.command("stv")
def stv_cmd(
    nseats: Annotated[int, typer.Option("--nseats", min=1, help="Number of seats.")],
    ballots: BallotsArg = Path("-"),
) -> None:
    """Single transferable vote: each ballot ranks answers 1, 2, 3, … (others 0)."""
    from viche.protocol.methods import stv

    parsed, _ = _ballots(ballots, 0, need_width=False)
    _print(stv(parsed, nseats).to_json())


def register(app: typer.Typer) -> None:
    app.add_typer(method_app)
