"""``viche event``: the national election event.

* ``viche event registry import REGISTRY.csv --constituencies C.json [--previous OLD.sqlite]
  [--out NEW.sqlite] [--json]``  import the voter registry (all or nothing), print the counts
  per constituency and category, the voters of excluded units, and the changes against the
  previous registry; every bad row is printed with its line and reason;
* ``viche event registry synthetic OUT.csv --constituencies-out C.json --voters N``  a
  synthetic registry and its constituencies, for trying the import;
* ``viche event demo --dir DIR``  a whole national event, every role and channel, verified
  at the end (``viche verify DIR`` verifies it again);
* ``viche event letters``  the credential authority's print-ready letters (QR code), one file
  per delivery batch (post, consular post, military unit);
* ``viche relay collect``  a unit's relay takes ballots (files) into its folder;
  ``viche relay upload``  sends them, in one batch, through the voting server (in-process:
  it opens the event directory with the server's keys, ``--keys``);
  ``viche relay receipt``  a voter finds her ballot's outcome by its tracker.

Schema and rules: ``docs/registry.md``; the event, its channels and logs: ``docs/event.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from viche.cli.election import random_source
from viche.cli.output import line, out
from viche.errors import Location

event_app = typer.Typer(
    name="event",
    help="The national election event: voter registry, constituencies, ballot styles.",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    name="registry",
    help="The voter registry: import it from the state register's CSV (docs/registry.md).",
    no_args_is_help=True,
)
event_app.add_typer(registry_app)
relay_app = typer.Typer(
    name="relay",
    help="A unit's relay: collect encrypted ballots offline, upload them in one batch.",
    no_args_is_help=True,
)

RelayOpt = Annotated[Path, typer.Option("--relay", help="The relay's folder.")]


@registry_app.command("import")
def registry_import(
    registry: Annotated[Path, typer.Argument(help="The registry CSV (docs/registry.md).")],
    *,
    constituencies: Annotated[
        Path, typer.Option("--constituencies", help="The constituency file (JSON).")
    ],
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="The registry this one replaces (changes are reported)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where to write the registry (default: --previous, else REGISTRY.sqlite).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    max_errors: Annotated[
        int, typer.Option("--max-errors", min=1, help="Bad rows listed at most.")
    ] = 100,
) -> None:
    """Import the voter registry: all rows, or nothing if any row is bad."""
    from viche.cli.output import err, line
    from viche.cli.progress import progress
    from viche.errors import BadRowsError
    from viche.event.constituencies import load_constituencies
    from viche.event.registry import Registry, import_registry

    cons = load_constituencies(constituencies)
    before = Registry.open(previous) if previous is not None else None
    try:
        with progress() as update:
            result = import_registry(
                registry,
                cons,
                before,
                out=out,
                progress=lambda done, total: update("reading the registry", done, total),
                max_errors=max_errors,
            )
    except BadRowsError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": exc.to_dict()}, ensure_ascii=False))
        else:
            for row in exc.rows:
                err.print(line(("bad row", "red"), f" {row}"))
        raise
    finally:
        if before is not None:
            before.close()
    with result.registry as reg:
        report = _report(result, reg.excluded_counts(cons))
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        _print_report(report)


def _report(result: Any, excluded: dict[str, int]) -> dict[str, Any]:
    from viche.event.registry import Category

    return {
        "ok": True,
        "registry": str(result.registry.path),
        "voters": result.rows,
        "source_sha256": result.registry.source_sha256(),
        "counts": {
            c: {k.value: per.get(k, 0) for k in Category} for c, per in result.counts.items()
        },
        "excluded_unit_voters": excluded,
        "changes": result.changes.to_json(),
    }


def _print_report(report: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    from viche.cli.output import line, out
    from viche.event.registry import Category

    out.print(
        line(
            ("registry", "bold green"),
            f" {report['voters']} voter(s) stored in {report['registry']}",
        )
    )
    out.print(f"source sha256 {report['source_sha256']}")
    table = Table(show_edge=False)
    for title in ("constituency", *(c.value for c in Category), "total", "in excluded units"):
        table.add_column(Text(title), justify="left" if title == "constituency" else "right")
    for constituency, per in report["counts"].items():
        table.add_row(
            Text(constituency),
            *(Text(str(per[c.value])) for c in Category),
            Text(str(sum(per.values()))),
            Text(str(report["excluded_unit_voters"].get(constituency, 0))),
        )
    out.print(table)
    changes = report["changes"]
    out.print(
        f"changes: {changes['added']} added, {changes['removed']} removed, "
        f"{changes['moved']} moved, {changes['changed']} changed"
    )
    for kind, ids in changes["examples"].items():
        if ids:
            out.print(f"  {kind}: {', '.join(ids)}{' …' if changes[kind] > len(ids) else ''}")


@registry_app.command("synthetic")
def registry_synthetic(
    registry: Annotated[Path, typer.Argument(help="The registry CSV to write.")],
    *,
    constituencies_out: Annotated[
        Path, typer.Option("--constituencies-out", help="Where to write the constituency file.")
    ],
    voters: Annotated[int, typer.Option("--voters", min=1, help="Number of voters.")] = 1000,
    regions: Annotated[int, typer.Option("--regions", min=1, help="Electoral regions.")] = 3,
    per_region: Annotated[
        int, typer.Option("--per-region", min=1, help="Constituencies per region.")
    ] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic data.")] = 1,
) -> None:
    """Write a synthetic registry (all four categories) and its constituency file."""
    from viche.cli.output import out
    from viche.event.synthetic import synthetic_constituencies, write_synthetic_registry
    from viche.service.files import write_text

    cons = synthetic_constituencies(regions, per_region)
    write_text(constituencies_out, json.dumps(cons.to_json(), ensure_ascii=False, indent=1))
    n = write_synthetic_registry(registry, cons, voters, seed)
    out.print(f"{n} voter(s) written to {registry}; constituencies in {constituencies_out}")


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
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Play every channel over HTTP: the event served on a SQLite board (in "
            "DIR/private/server) on a local port, the published folder downloaded from it.",
        ),
    ] = False,
) -> None:
    """Play a whole national event on a synthetic registry, then verify it."""
    from viche.cli.verify import print_report
    from viche.errors import VerificationError
    from viche.event.demo import desk_channels, run_event_demo

    serve = desk_channels
    if http:
        from viche.web.event_demo import http_channels

        serve = http_channels
    outcome = run_event_demo(directory, random_source(seed), say=_say, serve=serve)
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


@event_app.command("letters")
def letters_cmd(
    event: Annotated[Path, typer.Option("--event", help="The event directory (event.json).")],
    authority: Annotated[
        Path,
        typer.Option("--authority", help="The credential authority's folder: STYLE/*.privcreds."),
    ],
    registry: Annotated[Path, typer.Option("--registry", help="The voter registry (SQLite).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the print files.")],
    pdf: Annotated[
        bool,
        typer.Option("--pdf", help="Also print each file to PDF (A4) with a headless Chromium."),
    ] = False,
) -> None:
    """Print-ready credential letters (Ukrainian, QR code), one file per delivery batch."""
    from viche.errors import EnrolmentError
    from viche.event.letters import find_chromium, print_pdf, write_letters
    from viche.event.manifest import read_manifest
    from viche.event.registry import Registry
    from viche.service.credentials import read_privcreds

    manifest, _ = read_manifest(event)
    credentials: dict[str, tuple[str, str]] = {}
    for style in manifest.styles:
        files = sorted((authority / style.id).glob("*.privcreds"))
        if len(files) != 1:
            raise EnrolmentError(
                f"expected one .privcreds file for style {style.id!r}, found {len(files)}",
                where=Location(file=str(authority / style.id)),
            )
        for voter, cred in read_privcreds(files[0]).items():
            credentials[voter] = (style.id, cred)
    chromium = find_chromium() if pdf else None  # refused before anything is written
    with Registry.open(registry) as reg:
        batches = write_letters(out_dir, manifest, credentials, reg.get)
    for b in batches:
        out.print(f"{b.path}: {b.letters} letter(s)")
        if chromium is not None:
            print_pdf(b.path, b.path.with_suffix(".pdf"), chromium)
            out.print(f"{b.path.with_suffix('.pdf')}: printed")


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
    url: Annotated[
        str | None,
        typer.Argument(help="The voting server (over HTTP), e.g. https://vote.example.org"),
    ] = None,
    *,
    relay: RelayOpt,
    unit: Annotated[str, typer.Option("--unit", help="The relay's unit code.")],
    event: Annotated[
        str | None,
        typer.Option("--event", help="The event: its id (with URL), or its directory (without)."),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option("--secret-file", help="With URL: the file holding the unit relay's secret."),
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option("--keys", help="Without URL (in-process): event.ed25519, receipts.ed25519."),
    ] = None,
) -> None:
    """Send every pending ballot in one batch; each is accepted or refused on its own."""
    from viche.errors import UsageError
    from viche.event.relay import Batch, upload, upload_with

    if event is None:
        raise UsageError("--event is needed", where=Location(path=("--event",)))
    batch: Batch
    if url is not None:
        from viche.service.files import read_text
        from viche.web.client import EventClient

        if secret_file is None:
            raise UsageError("--secret-file is needed with URL", where=Location(
                path=("--secret-file",)))  # fmt: skip
        secret = read_text(_existing(secret_file), "relay secret").strip()
        client = EventClient(url, event)
        try:
            batch = upload_with(relay, unit, lambda bid, ballots: client.upload_batch(
                unit, secret, bid, ballots))  # fmt: skip
        finally:
            client.close()
    else:
        from viche.event.channels import EventDesk
        from viche.event.keys import EventKey
        from viche.service.receipts import ReceiptKey

        if keys is None:
            raise UsageError("--keys is needed without URL", where=Location(path=("--keys",)))
        key = EventKey.load_or_create(_existing(keys / "event.ed25519"))
        receipt_key = ReceiptKey.load_or_create(_existing(keys / "receipts.ed25519"))
        with EventDesk(Path(event), key, receipt_key) as desk:
            batch = upload(relay, desk, unit)
    for o in batch.outcomes:
        verdict = "accepted" if o.error is None else f"refused [{o.error.code}] {o.error.message}"
        out.print(f"{o.tracker}: {verdict}")
    out.print(f"batch {batch.id}: {batch.accepted} of {len(batch.outcomes)} accepted")


DataOpt = Annotated[
    Path, typer.Option("--data", help="The server's data folder (SQLite board, receipt keys).")
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: sqlite:///DATA/board.sqlite)."),
]


@event_app.command("host")
def host_cmd(
    *,
    event: Annotated[Path, typer.Option("--event", help="The event directory (event.json).")],
    event_keys: Annotated[
        Path, typer.Option("--event-keys", help="The server's keys: receipts.ed25519.")
    ],
    authority: Annotated[
        Path,
        typer.Option("--authority", help="The credential authority's STYLE/*.pubcreds (ids)."),
    ],
    logins_out: Annotated[
        Path, typer.Option("--logins-out", help="Where to write each voter's login secret.")
    ],
    data: DataOpt = Path("viche-data"),
    database: DatabaseOpt = None,
) -> None:
    """Put every ballot style of the event on the server's board (before the vote opens);
    then `viche serve --event DIR --event-keys KEYS` serves it."""
    from viche.cli.serve import database_url
    from viche.event.hosted import host_event
    from viche.record.sql import SqlBoard
    from viche.service.files import make_dir

    make_dir(data, "data folder", private=True)
    board = SqlBoard.open(database_url(data, database))
    try:
        hosted = host_event(board, (data / "keys").resolve(), event, event_keys=event_keys,
                            authority_dir=authority, logins_out=logins_out)  # fmt: skip
    finally:
        board.close()
    for h in hosted:
        verb = "opened" if h.created else "already on the board"
        out.print(f"style {h.style}: election {h.election}, {h.voters} voter(s), {verb}")
    out.print(f"voters' login secrets (for the post office): {logins_out}")


@event_app.command("secret")
def secret_cmd(
    kind: Annotated[str, typer.Argument(help="station or relay")],
    name: Annotated[str, typer.Argument(help="The station's id, or the relay's unit code.")],
    *,
    event: Annotated[Path, typer.Option("--event", help="The event directory (event.json).")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the secret (mode 0600, shown nowhere).")
    ],
    data: DataOpt = Path("viche-data"),
    database: DatabaseOpt = None,
) -> None:
    """The commission issues a polling station's (or a unit relay's) secret: a new one
    replaces the old; the server keeps only its argon2id hash."""
    from viche.cli.serve import database_url
    from viche.event.hosted import issue_secret
    from viche.event.manifest import read_manifest
    from viche.record.sql import SqlBoard
    from viche.service.files import write_text

    manifest, _ = read_manifest(event)
    board = SqlBoard.open(database_url(data, database))
    try:
        secret = issue_secret(board, manifest, kind, name)
    finally:
        board.close()
    write_text(out_file, secret + "\n", secret=True)
    out.print(f"{kind} {name}: secret written to {out_file}")


@event_app.command("download")
def download_cmd(
    url: Annotated[str, typer.Argument(help="The voting server, e.g. https://vote.example.org")],
    *,
    event: Annotated[str, typer.Option("--event", help="The event's id.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write (viche verify DIR).")],
) -> None:
    """Download an event's published records: `viche verify DIR` then verifies them."""
    from viche.web.client import EventClient

    client = EventClient(url, event)
    try:
        files = client.download(out_dir)
    finally:
        client.close()
    out.print(f"{len(files)} file(s) written to {out_dir}; verify with: viche verify {out_dir}")


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
