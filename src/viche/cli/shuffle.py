"""Mixnet commands of the tally (non-homomorphic questions), added to ``viche tally``:

* ``viche tally shuffle --dir D --trustee-id N`` — a trustee shuffles the current
  non-homomorphic rows and prints two lines (shuffle, owned_shuffle), like
  ``belenios-tool election shuffle``;
* ``viche tally add-shuffle FILE --dir D`` — the administrator checks those lines and appends
  the Shuffle event;
* ``viche tally end-shuffles --dir D`` — the administrator closes the shuffles (EndShuffles),
  after which the trustees decrypt (``viche tally decrypt``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from viche.cli.election import DirOpt, random_source, tally_app
from viche.cli.output import out

SeedOpt = Annotated[
    str | None,
    typer.Option("--seed", hidden=True, help="Seeded randomness (tests and demos only)."),
]


def tally_shuffle_cmd(
    trustee_id: Annotated[int, typer.Option("--trustee-id", help="1-based trustee id.")],
    directory: DirOpt = Path("."),
    seed: SeedOpt = None,
) -> None:
    """Trustee: shuffle the non-homomorphic ciphertexts (two lines, as belenios-tool)."""
    import sys

    from viche.service import shuffle as svc
    from viche.service.archive import open_record

    with open_record(directory) as state:
        lines = svc.shuffle(state, trustee_id, random_source(seed))
    sys.stdout.write(lines.text())


def tally_add_shuffle_cmd(
    file: Annotated[Path, typer.Argument(help="The two lines printed by 'tally shuffle'.")],
    directory: DirOpt = Path("."),
) -> None:
    """Administrator: check a trustee's shuffle and append it."""
    from viche.service import shuffle as svc
    from viche.service.archive import open_record

    lines = svc.read_shuffle_lines(file)
    with open_record(directory) as state:
        owner = svc.add_shuffle(state, lines)
    out.print(f"shuffle of trustee {owner} accepted")


def tally_end_shuffles_cmd(directory: DirOpt = Path(".")) -> None:
    """Administrator: close the shuffles (EndShuffles); the trustees can then decrypt."""
    from viche.service import shuffle as svc
    from viche.service.archive import open_record

    with open_record(directory) as state:
        n = svc.end_shuffles(state)
    out.print(f"shuffles closed after {n} shuffle(s)")


def register(app: typer.Typer) -> None:
    """Add the mixnet commands to ``viche tally`` (``app`` already holds that group)."""
    del app  # the commands join the tally group of viche.cli.election
    tally_app.command("shuffle")(tally_shuffle_cmd)
    tally_app.command("add-shuffle")(tally_add_shuffle_cmd)
    tally_app.command("end-shuffles")(tally_end_shuffles_cmd)
