"""National event commands.

* ``viche event demo --dir DIR``      a whole national event, every role and channel,
  verified at the end (``viche verify DIR`` verifies it again);
* ``viche relay collect``             a unit's relay takes ballots (files) into its folder;
* ``viche relay upload``              sends them, in one batch, through the voting server;
* ``viche relay receipt``             a voter finds her ballot's outcome by its tracker.

``relay upload`` plays the voting server's side in-process: it opens the event directory
with the server's keys (the event key and the receipt key, ``--keys``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from viche.cli.election import random_source
from viche.cli.output import line, out
from viche.errors import Location

event_app = typer.Typer(
    name="event",
    help="A national election event: ballot styles, stations, channels, relays.",
    no_args_is_help=True,
)
relay_app = typer.Typer(
    name="relay",
    help="A unit's relay: collect encrypted ballots offline, upload them in one batch.",
    no_args_is_help=True,
)

RelayOpt = Annotated[Path, typer.Option("--relay", help="The relay's folder.")]


def _say(message: str) -> None:
    role, _, rest = message.partition(": ")
    out.print(line((role, "bold cyan"), f": {rest}") if rest else message)


@event_app.command("demo")
def demo_cmd(
    directory: Annotated[
        Path, typer.Option("--dir", help="New or empty directory: the event and its roles.")
    ],
    seed: Annotated[
        str | None,
        typer.Option("--seed", help="Seeded randomness (reproducible; never for real elections)."),
    ] = None,
) -> None:
    """Play a whole national event on a synthetic registry, then verify it."""
    from viche.cli.verify import print_report
    from viche.errors import VerificationError
    from viche.event.demo import run_event_demo

    outcome = run_event_demo(directory, random_source(seed), say=_say)
    print_report(outcome.report, out)
    for sid, rows in outcome.result.styles.items():
        out.print(f"style {sid}: {json.dumps(rows)}")
    out.print(f"national (presidential question): {json.dumps(outcome.result.national)}")
    out.print(f"turnout per channel: {json.dumps(outcome.result.turnout)}")
    if not outcome.report.ok:
        raise VerificationError("the event failed its verification", where=Location(
            file=str(directory)))  # fmt: skip
    if not outcome.matches:
        raise VerificationError("the verified results differ from the plaintext intent")
    out.print(
        "The verified results equal the plaintext intent (last ballot of each voter, station "
        f"votes overriding online ones). Published records: {directory}"
    )


@relay_app.command("collect")
def collect_cmd(
    relay: RelayOpt,
    ballots: Annotated[list[Path], typer.Argument(help="Ballot files (one line each).")],
) -> None:
    """Add ballots to the relay's pending batch (the relay cannot read or alter them)."""
    from viche.event.relay import collect
    from viche.service.files import read_bytes

    items = [(read_bytes(p, "ballot"), Location(file=str(p))) for p in ballots]
    for c in collect(relay, items):
        out.print(f"collected {c.tracker} (election {c.election})")


@relay_app.command("upload")
def upload_cmd(
    relay: RelayOpt,
    event: Annotated[Path, typer.Option("--event", help="The event directory (server side).")],
    keys: Annotated[
        Path, typer.Option("--keys", help="The server's keys: event.ed25519, receipts.ed25519.")
    ],
    unit: Annotated[str, typer.Option("--unit", help="The relay's unit code.")],
) -> None:
    """Send every pending ballot in one batch; each is accepted or refused on its own."""
    from viche.event.channels import EventDesk
    from viche.event.keys import EventKey
    from viche.event.relay import upload
    from viche.service.receipts import ReceiptKey

    key = EventKey.load_or_create(_existing(keys / "event.ed25519"))
    receipt_key = ReceiptKey.load_or_create(_existing(keys / "receipts.ed25519"))
    with EventDesk(event, key, receipt_key) as desk:
        batch = upload(relay, desk, unit)
    for o in batch.outcomes:
        verdict = "accepted" if o.error is None else f"refused [{o.error.code}] {o.error.message}"
        out.print(f"{o.tracker}: {verdict}")
    out.print(f"batch {batch.id}: {batch.accepted} of {len(batch.outcomes)} accepted")


def _existing(path: Path) -> Path:
    from viche.errors import MissingFileError

    if not path.is_file():
        raise MissingFileError("no such key file", where=Location(file=str(path)))
    return path


@relay_app.command("receipt")
def receipt_cmd(
    relay: RelayOpt,
    tracker: Annotated[str, typer.Argument(help="The ballot's smart ballot tracker.")],
) -> None:
    """A voter's outcome (signed receipt, or why it was refused), by her tracker."""
    from viche.event.relay import find_receipt

    typer.echo(json.dumps(find_receipt(relay, tracker, Location(path=("tracker",))), indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(event_app)
    app.add_typer(relay_app)
