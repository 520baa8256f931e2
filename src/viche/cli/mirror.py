"""``viche mirror URL DIR``: an observer's copy of an election's record, checked on update.

Fetches the archive from the server (``URL`` is the election's address
``http://HOST/api/v1/elections/UUID`` or the archive's own), checks that every new version
extends the copy (``verify-diff``), keeps the copy and the evidence when it does not, and
repeats every ``--interval`` seconds (``--once``: a single update). Exit code 0 when every
update held, 1 when an alarm was raised, 2 when the server or the folder cannot be used.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def mirror_cmd(
    url: Annotated[str, typer.Argument(help="The election's address or its archive.bel.")],
    directory: Annotated[Path, typer.Argument(help="The mirror folder (created if absent).")],
    once: Annotated[bool, typer.Option("--once", help="Update once, then stop.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between updates.")
    ] = 10.0,
    updates: Annotated[
        int, typer.Option("--updates", min=0, help="Stop after this many updates (0: never).")
    ] = 0,
) -> None:
    """Observer: keep a checked copy of an election's public record."""
    from viche.cli.output import line, out, styled
    from viche.errors import VicheError
    from viche.service.mirror import MirrorStatus, archive_url, http_fetch, update_mirror

    fetch = http_fetch(archive_url(url))
    directory.mkdir(parents=True, exist_ok=True)
    alarms = 0
    count = 0
    while True:
        try:
            update = update_mirror(directory, fetch)
        except VicheError as exc:
            if once:
                raise
            # the server may be down for a while: say so and try again
            out.print(line(("unreachable", "yellow"), f" {exc}"))
        else:
            if update.status is MirrorStatus.ALARM:
                alarms += 1
                out.print(styled(update.line(), "bold red"))
            else:
                out.print(update.line())
        count += 1
        if once or (updates and count >= updates):
            break
        time.sleep(interval)
    if alarms:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("mirror")(mirror_cmd)
