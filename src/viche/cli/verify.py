"""``viche verify`` and ``viche verify-diff``: the universal verifier on the command line.

Exit codes: 0 when every check holds, 1 when a check failed, 2 when the input cannot be
read. The summary is a table on stdout (or the whole report as JSON with ``--json``); the
progress bar goes to stderr.

``viche verify`` streams the archive (bounded memory, :func:`viche.verify.verify_record`);
``--scheduler tcp://host:8786`` checks the ballots on a dask.distributed cluster instead of
local worker processes (optional extra ``cluster``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from viche.cli.output import err, line, out, styled
from viche.cli.progress import progress as stage_progress
from viche.errors import Location
from viche.verify.report import Status, VerificationReport

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREADABLE = 2

_STYLE = {Status.PASSED: "green", Status.FAILED: "bold red", Status.NOT_APPLICABLE: "dim"}


def print_report(report: VerificationReport, console: Console) -> None:
    # Everything below may quote the archive (types, keys, names): the consoles of
    # viche.cli.output print it verbatim; styles are given as data.
    table = Table(title=f"Verification of {report.source}", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("objects", justify="right")
    table.add_column("notes")
    for c in report.checks:
        note = c.note
        if c.failures:
            note = f"{len(c.failures)} failure(s)" + (f"; {note}" if note else "")
        table.add_row(c.name, styled(c.status.value, _STYLE[c.status]), str(c.count), note)
    console.print(table, soft_wrap=False)
    failures = report.failures
    for f in failures[:50]:
        console.print(line(("FAIL", "red"), f" {f}"))
    if len(failures) > 50:
        console.print(f"… and {len(failures) - 50} more failure(s) (use --json for all)")
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    if counts:
        console.print(counts)
    if report.result is not None:
        console.print(f"result: {json.dumps(report.result, separators=(',', ':'))}")
    total = report.timing.get("total")
    timing = f" in {total:.2f} s with {report.jobs} process(es)" if total is not None else ""
    verdict = ("all checks passed", "bold green") if report.ok else ("FAILED", "bold red")
    console.print(line(verdict, timing))


def _exit(report: VerificationReport) -> None:
    if not report.readable:
        raise typer.Exit(EXIT_UNREADABLE)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add ``verify`` and ``verify-diff`` to ``app``."""

    @app.command("verify")
    def verify_cmd(
        path: Annotated[
            Path,
            typer.Argument(
                readable=False,
                help="A .bel archive, a directory holding one, or an event directory "
                "(event.json: every style, the sum, the station-lock log).",
            ),
        ],
        *,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the full report as JSON.")
        ] = False,
        jobs: Annotated[
            int | None,
            typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all cores)."),
        ] = None,
        scheduler: Annotated[
            str | None,
            typer.Option(
                "--scheduler",
                help="Check the ballots on a dask.distributed cluster (scheduler address, "
                "e.g. tcp://host:8786; needs the 'cluster' extra).",
            ),
        ] = None,
        receipts: Annotated[
            Path | None,
            typer.Option(
                "--receipts",
                help="A folder of signed receipts (*.json): check each against the record.",
            ),
        ] = None,
        receipt_key: Annotated[
            str | None,
            typer.Option(
                "--receipt-key",
                help="The election's published receipt key (Base64), that signs every receipt.",
            ),
        ] = None,
        published_outcomes: Annotated[
            Path | None,
            typer.Option(
                "--published-outcomes",
                help="Outcomes published for the ranked questions (outcomes.json): recount "
                "each with its own parameters.",
            ),
        ] = None,
    ) -> None:
        """Verify a public record: setup, every ballot, tally, decryptions and result; the
        outcomes of the questions tallied through shuffles, counted from the Result (and,
        with --receipts, that every acknowledged ballot is in the record). Or a national
        event: every style, the national sum, the station-lock and relay logs."""
        from viche.event.manifest import is_event_directory
        from viche.verify.streaming import verify_record

        if receipt_key is not None:
            from viche.service.receipts import published_key

            receipt_key = published_key(receipt_key, Location(path=("--receipt-key",)))
        if receipts is not None:
            from viche.service.receipts import receipt_files

            receipt_files(receipts)  # a missing folder is a usage error, before the work
        # no refresh thread: the worker pool forks while the bars are up
        with stage_progress(console=err, refresh_thread=False) as progress:
            if is_event_directory(path):
                from viche.event.verify_event import verify_event

                report = verify_event(path, jobs=jobs, progress=progress, scheduler=scheduler)
            else:
                report = verify_record(path, jobs=jobs, progress=progress, scheduler=scheduler)
        rows = None
        if not is_event_directory(path):
            published = None
            if published_outcomes is not None:
                from viche.service.files import read_json

                published = read_json(published_outcomes, "published outcomes")
            from viche.service.outcomes import add_outcomes

            rows = add_outcomes(report, path, published, Location(file=str(published_outcomes)))
            if receipts is not None:
                from viche.service.receipts import check_receipt_folder

                check_receipt_folder(report, path, receipts, receipt_key)
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            print_report(report, out)
            if report.outcomes is not None and rows is not None:
                from viche.cli.election import print_outcomes

                print_outcomes(rows, report.outcomes)
        _exit(report)

    @app.command("verify-diff")
    def verify_diff_cmd(
        old: Annotated[
            Path, typer.Argument(readable=False, help="The older snapshot (.bel or directory).")
        ],
        new: Annotated[
            Path, typer.Argument(readable=False, help="The newer snapshot (.bel or directory).")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Check that NEW extends OLD: same setup, no event removed or changed."""
        from viche.verify.diff import verify_snapshots

        report = verify_snapshots(old, new)
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            print_report(report, out)
        _exit(report)
