"""``viche mirror URL DIR``: an observer's copy of an election's record, checked on update.

Fetches the archive from the server (``URL`` is the election's address
``http://HOST/api/v1/elections/UUID`` or the archive's own), checks that every new version
extends the copy (``verify-diff``), keeps the copy and the evidence when it does not, and
repeats every ``--interval`` seconds (``--once``: a single update); once a copy is kept, a
server that cannot be reached is said and tried again. Exit code 0 when every update held,
1 when an alarm was raised, 2 when the server (at the first fetch) or the folder cannot be
used.

``--serve`` also serves the copy read-only on ``--host``/``--port`` with the server's own
public endpoints (``GET /api/v1/elections``, ``…/{uuid}``, ``…/archive.bel``, objects by
hash, the ballot box, the result, the live events), so that observers elsewhere publish the
same record; another mirror can follow this one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from viche.service.mirror import MirrorUpdate


def mirror_cmd(
    url: Annotated[str, typer.Argument(help="The election's address or its archive.bel.")],
    directory: Annotated[Path, typer.Argument(help="The mirror folder (created if absent).")],
    *,
    once: Annotated[bool, typer.Option("--once", help="Update once, then stop.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between updates.")
    ] = 10.0,
    updates: Annotated[
        int, typer.Option("--updates", min=0, help="Stop after this many updates (0: never).")
    ] = 0,
    serve: Annotated[
        bool, typer.Option("--serve", help="Also serve the copy read-only over HTTP.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8001,
) -> None:
    """Observer: keep a checked copy of an election's public record (and serve it)."""
    from viche.cli.output import line, out, styled
    from viche.errors import Location, UsageError, VicheError
    from viche.service.files import make_dir
    from viche.service.mirror import (
        MirrorStatus,
        archive_url,
        current_copy,
        http_fetch,
        http_receipt_key,
        save_receipt_key,
        saved_receipt_key,
        update_mirror,
    )

    if serve and once:
        raise UsageError("--serve keeps the copy up to date: not with --once")
    if not 1 <= port <= 65535:
        raise UsageError(f"port {port} is out of range", where=Location(path=("--port",)))
    fetch = http_fetch(archive_url(url))
    make_dir(directory, "mirror folder")
    alarms = 0
    count = 0
    after: list[MirrorUpdate] = []

    def one() -> None:
        nonlocal alarms
        try:
            update = update_mirror(directory, fetch)
        except VicheError as exc:
            if once or current_copy(directory) is None:
                raise  # nothing copied yet: a wrong or dead address is said at once
            # the server may be down for a while: say so and try again
            out.print(line(("unreachable", "yellow"), f" {exc}"))
            return
        if update.status is MirrorStatus.ALARM:
            alarms += 1
            out.print(styled(update.line(), "bold red"))
        else:
            out.print(update.line())
        if update.status is MirrorStatus.NEW or (serve and saved_receipt_key(directory) is None):
            try:  # the key that signs the receipts, for viche verify DIR --receipts R
                save_receipt_key(directory, http_receipt_key(url))
            except VicheError as exc:
                out.print(line(("no receipt key", "yellow"), f" {exc}"))
        after.append(update)

    if serve:
        one()
        if current_copy(directory) is None:
            raise UsageError("no copy to serve yet", where=Location(file=str(directory)))
        _serve(url, directory, host, port, interval, one, after)
        return
    while True:
        one()
        count += 1
        if once or (updates and count >= updates):
            break
        time.sleep(interval)
    if alarms:
        raise typer.Exit(1)


def _serve(  # noqa: PLR0917 (one call site)
    url: str,
    directory: Path,
    host: str,
    port: int,
    interval: float,
    update: Callable[[], None],
    updates: list[MirrorUpdate],
) -> None:
    """Serve the copy read-only while a thread keeps it (and its board) up to date."""
    import threading

    import uvicorn

    from viche.cli.output import err, line, out
    from viche.errors import Location, UsageError, VicheError
    from viche.record.sql import SqlBoard
    from viche.service.hosting import Host
    from viche.service.mirror import (
        MirrorStatus,
        current_copy,
        saved_receipt_key,
        served_board_url,
        sync_board,
    )
    from viche.web.app import create_app

    key = saved_receipt_key(directory)
    if key is None:
        raise UsageError("the server publishes no receipt key", where=Location(path=(url,)))
    board = SqlBoard.open(served_board_url(directory))

    def sync() -> None:
        copy = current_copy(directory)
        if copy is None:
            return
        try:
            sync_board(board, copy, key)
        except VicheError as exc:
            err.print(line(("cannot serve the copy", "bold red"), f" {exc}"))

    sync()

    def follow() -> None:
        while True:
            time.sleep(interval)
            updates.clear()
            update()
            if any(u.status in (MirrorStatus.NEW, MirrorStatus.EXTENDED) for u in updates):
                sync()

    threading.Thread(target=follow, name="mirror-updates", daemon=True).start()
    out.print(f"serving the copy read-only on http://{host}:{port}/api/v1/elections")
    try:
        uvicorn.run(
            create_app(Host(board, directory / "keys"), read_only=True),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    finally:
        board.close()


def register(app: typer.Typer) -> None:
    app.command("mirror")(mirror_cmd)
