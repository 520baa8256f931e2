"""``viche serve``, ``viche vote`` and ``viche receipt check``: the voting server and its
command-line client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from viche.cli.output import command_name, err, line, out

receipt_app = typer.Typer(
    name="receipt", help="Signed receipts of the voting server.", no_args_is_help=True
)

DEFAULT_DATA = Path("viche-data")


def database_url(data: Path, database: str | None) -> str:
    return database or f"sqlite:///{(data / 'board.sqlite').resolve()}"


def serve_cmd(
    *,
    data: Annotated[
        Path, typer.Option("--data", help="Data folder (SQLite board, receipt keys, demo files).")
    ] = DEFAULT_DATA,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL (default: sqlite:///DATA/board.sqlite; or postgresql://…).",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Open a demo election with demo voters (resumed if it exists)."
        ),
    ] = False,
    voters: Annotated[int, typer.Option("--voters", help="Demo voters.")] = 5,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (ballots are checked in each).")
    ] = 1,
    smtp_host: Annotated[
        str | None,
        typer.Option(
            "--smtp-host",
            envvar="VICHE_SMTP_HOST",
            help="Voters authenticate with a one-time code mailed through this SMTP server "
            "(instead of a login secret).",
        ),
    ] = None,
    smtp_port: Annotated[
        int, typer.Option("--smtp-port", envvar="VICHE_SMTP_PORT", help="SMTP port.")
    ] = 25,
    smtp_from: Annotated[
        str,
        typer.Option("--smtp-from", envvar="VICHE_SMTP_FROM", help="Sender of the codes."),
    ] = "viche@localhost",
    smtp_tls: Annotated[
        str,
        typer.Option(
            "--smtp-tls",
            envvar="VICHE_SMTP_TLS",
            help="auto (STARTTLS required beyond this machine, SMTPS on port 465, plain "
            "SMTP to a relay on this machine), starttls, tls (SMTPS) or none.",
        ),
    ] = "auto",
    smtp_ca_file: Annotated[
        Path | None,
        typer.Option(
            "--smtp-ca-file",
            envvar="VICHE_SMTP_CA_FILE",
            help="CA certificates (PEM) the mail server's certificate is checked against "
            "(default: the system's).",
        ),
    ] = None,
    smtp_user: Annotated[
        str | None,
        typer.Option(
            "--smtp-user", envvar="VICHE_SMTP_USER", help="Log in to the mail server as this user."
        ),
    ] = None,
    smtp_password_file: Annotated[
        Path | None,
        typer.Option(
            "--smtp-password-file",
            envvar="VICHE_SMTP_PASSWORD_FILE",
            help="File holding the --smtp-user's password (or set VICHE_SMTP_PASSWORD; "
            "never on the command line).",
        ),
    ] = None,
    event: Annotated[
        Path | None,
        typer.Option(
            "--event",
            help="Also serve this national event directory (its styles put on the board by "
            "`viche event host`), under /api/v1/events.",
        ),
    ] = None,
    event_keys: Annotated[
        Path | None,
        typer.Option("--event-keys", help="The event's keys: event.ed25519, receipts.ed25519."),
    ] = None,
    schedule_every: Annotated[
        float,
        typer.Option(
            "--schedule-every",
            help="Seconds between checks of the opening and closing times (also at start).",
        ),
    ] = 5.0,
    streams_per_address: Annotated[
        int,
        typer.Option(
            "--streams-per-address",
            help="Live event streams open at once from one client address, in each worker "
            "(beyond: 429; 0: no cap).",
        ),
    ] = 20,
    max_streams: Annotated[
        int,
        typer.Option(
            "--max-streams",
            help="Live event streams open at once in each worker (beyond: 503 with "
            "Retry-After; 0: no cap).",
        ),
    ] = 1000,
    cast_wait: Annotated[
        float,
        typer.Option(
            "--cast-wait",
            help="Seconds a ballot may wait in a worker: beyond as many ballots as a worker "
            "answers in that time, new ones get 503 with Retry-After (0: no bound).",
        ),
    ] = 0.5,
) -> None:
    """Serve the elections of the bulletin board over HTTP (API under /api/v1)."""
    import os

    import uvicorn

    from viche.crypto.rng import SystemRandom
    from viche.errors import Location, UsageError
    from viche.record.sql import SqlBoard
    from viche.service.files import make_dir
    from viche.service.onetime import is_loopback
    from viche.web.checkpool import check_processes
    from viche.web.metrics import reset_shared
    from viche.web.ops import UVICORN_LOG_CONFIG, OpsConfig
    from viche.web.serve import (
        ENV_CAST_WAIT,
        ENV_CHECKS,
        ENV_CORS,
        ENV_DATABASE,
        ENV_EVENT,
        ENV_EVENT_KEYS,
        ENV_KEYS,
        ENV_METRICS,
        ENV_SCHEDULE,
        ENV_STREAMS,
        ENV_WORKERS,
        ArrivalStamps,
        smtp_mailer,
    )

    if not 1 <= port <= 65535:
        raise UsageError(f"port {port} is out of range", where=Location(path=("--port",)))
    if workers < 1:
        raise UsageError("at least one worker", where=Location(path=("--workers",)))
    if not 1 <= smtp_port <= 65535:
        raise UsageError(f"port {smtp_port} is out of range", where=Location(path=("--smtp-port",)))
    smtp_env = _smtp_env(
        host=smtp_host,
        port=smtp_port,
        sender=smtp_from,
        security=smtp_tls,
        ca_file=smtp_ca_file,
        user=smtp_user,
        password_file=smtp_password_file,
    )
    if not schedule_every > 0:
        raise UsageError("a positive number of seconds", where=Location(path=("--schedule-every",)))
    caps = {"--streams-per-address": streams_per_address, "--max-streams": max_streams}
    for name, cap in caps.items():
        if cap < 0:
            raise UsageError("0 (no cap) or more streams", where=Location(path=(name,)))
    if not 0 <= cast_wait < 3600:
        raise UsageError("0 or a positive number of seconds", where=Location(path=("--cast-wait",)))
    given = os.environ.get(ENV_CHECKS)
    if given is not None and not (given.isascii() and given.isdigit() and int(given) <= 64):
        raise UsageError(
            f"a whole number of check processes per worker, 0 to 64; got {given[:16]!r}",
            where=Location(path=(ENV_CHECKS,)),
        )
    mailer = smtp_mailer({**os.environ, **smtp_env}) if smtp_host else None
    if mailer is not None:
        from viche.errors import DeliveryError, MailSecurityError

        try:
            mailer.check()  # a post office that is down, not safe or refuses the login: say so now
        except MailSecurityError:
            raise  # a configuration that would send codes unsafely: fixed before serving
        except DeliveryError as exc:
            # down or refusing now: the server still starts (a restart during a mail outage must
            # not stop voters who sign in otherwise); each code request is tried anew
            warning = f" {exc}; serving anyway, codes fail until it answers"
            err.print(line(("warning", "yellow"), warning))
    OpsConfig.parse_origins(os.environ.get(ENV_CORS, ""))  # refused here, not in a worker
    make_dir(data, "data folder", private=True)
    url = database_url(data, database)
    keys = (data / "keys").resolve()
    board = SqlBoard.open(url)
    base = f"http://{host}:{port}"
    try:
        from viche.service.admin import ensure_server_admin

        secret_file = data / "admin.secret"
        if ensure_server_admin(board, secret_file):
            out.print(f"server administrator's secret written to {secret_file}")
        if demo:
            import shlex

            from viche.service.served_demo import start_demo

            found = start_demo(data, board, keys, SystemRandom(), voters)
            verb = "opened" if found.created else "resumed"
            out.print(f"demo election {verb}: {found.uuid}")
            out.print(f"voters' private credentials and login secrets: {found.voters_dir}")
            out.print(
                f"vote: {command_name()} vote "
                f"{base} --election {found.uuid} "
                f"--privcred {shlex.quote(str(found.voters_dir / '001.cred'))} "
                f"--login {shlex.quote(str(found.voters_dir / '001.login'))} "
                f"--ballot {shlex.quote(str(found.voters_dir / 'choices.json'))}"
            )
        if (event is None) != (event_keys is None):
            raise UsageError("--event and --event-keys go together", where=Location(
                path=("--event",)))  # fmt: skip
        if event is not None and event_keys is not None:
            from viche.event.hosted import open_served_event
            from viche.service.hosting import Host

            served = open_served_event(Host(board, keys), event.resolve(), event_keys.resolve())
            out.print(f"national event {served.id}: {len(served.manifest.styles)} ballot "
                      f"styles, served under {base}/api/v1/events/{served.id}")  # fmt: skip
            served.close()
            os.environ[ENV_EVENT] = str(event.resolve())
            os.environ[ENV_EVENT_KEYS] = str(event_keys.resolve())
    finally:
        board.close()
    out.print(f"serving {base}/api/v1/elections (API documentation: /api/v1/docs)")
    os.environ[ENV_DATABASE] = url
    os.environ[ENV_KEYS] = str(keys)
    shared = (data / "metrics").resolve()
    try:
        reset_shared(shared)
    except OSError as exc:
        raise UsageError(
            f"cannot prepare the metrics folder: {exc.strerror}", where=Location(file=str(shared))
        ) from None
    os.environ[ENV_METRICS] = str(shared)
    os.environ[ENV_SCHEDULE] = str(schedule_every)
    os.environ[ENV_CAST_WAIT] = str(cast_wait)
    os.environ[ENV_WORKERS] = str(workers)
    os.environ[ENV_STREAMS] = f"{streams_per_address}/{max_streams}"
    os.environ.setdefault(ENV_CHECKS, str(check_processes(workers)))
    if mailer is not None:
        os.environ.update(smtp_env)
        how = {"starttls": "STARTTLS", "tls": "SMTPS", "none": "plain SMTP"}[mailer.mode]
        if mailer.mode == "none" and not is_loopback(mailer.host):
            how += ": the codes cross the network in clear"
        login = f", logged in as {mailer.user}" if mailer.user else ""
        out.print(
            f"voters authenticate with one-time codes mailed via {smtp_host}:{smtp_port} "
            f"({how}{login})"
        )
    uvicorn.run(
        "viche.web.serve:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        log_config=UVICORN_LOG_CONFIG,
        access_log=False,
        http=ArrivalStamps,  # the admission counts the wait in the accept queue
        # a worker busy checking ballots on a loaded machine may answer the supervisor's
        # ping late; killing it would drop the ballots it holds (unacknowledged, but lost)
        timeout_worker_healthcheck=60,
    )


def _smtp_env(
    *,
    host: str | None,
    port: int,
    sender: str,
    security: str,
    ca_file: Path | None,
    user: str | None,
    password_file: Path | None,
) -> dict[str, str]:
    """The environment that hands the mail server's settings to the workers
    (:func:`viche.web.serve.smtp_mailer`), the options checked; empty without a host."""
    import os

    from viche.errors import Location, UsageError
    from viche.service.files import read_bytes
    from viche.service.onetime import SECURITY, is_loopback
    from viche.web import serve as env

    if security not in SECURITY:
        raise UsageError(
            f"one of {', '.join(SECURITY)}; got {security[:16]!r}",
            where=Location(path=("--smtp-tls",)),
        )
    if not host:
        return {}
    values = {env.ENV_SMTP: f"{host}|{port}|{sender}", env.ENV_SMTP_TLS: security}
    if ca_file is not None:
        read_bytes(ca_file, "CA file of the mail server")  # there and readable
        values[env.ENV_SMTP_CA_FILE] = str(ca_file.resolve())
    has_password = password_file is not None or bool(os.environ.get(env.ENV_SMTP_PASSWORD))
    if user is None and has_password:
        raise UsageError(
            "a password for the mail server needs --smtp-user",
            where=Location(path=("--smtp-user",)),
        )
    if user is not None:
        if not has_password:
            raise UsageError(
                "--smtp-user needs its password: --smtp-password-file FILE, or the "
                f"environment variable {env.ENV_SMTP_PASSWORD}",
                where=Location(path=("--smtp-password-file",)),
            )
        if security == "none" and not is_loopback(host):  # (auto is never clear there)
            raise UsageError(
                "the mail server's password would cross the network in clear: log in "
                "under TLS (--smtp-tls auto, starttls or tls)",
                where=Location(path=("--smtp-tls",)),
            )
        values[env.ENV_SMTP_USER] = user
        if password_file is not None:
            read_bytes(password_file, "SMTP password file")  # there and readable
            values[env.ENV_SMTP_PASSWORD_FILE] = str(password_file.resolve())
    return values


def vote_cmd(
    url: Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8000")],
    *,
    election: Annotated[str, typer.Option("--election", help="The election's uuid.")],
    privcred: Annotated[Path, typer.Option("--privcred", help="Your private credential file.")],
    login: Annotated[
        Path, typer.Option("--login", help="File holding 'LOGIN SECRET' (your server login).")
    ],
    ballot: Annotated[Path, typer.Option("--ballot", help="Your choices, e.g. [[0,1,0],[1,0]].")],
    receipt: Annotated[
        Path | None,
        typer.Option(
            "--receipt", help="Where to save the signed receipt (default: beside --ballot)."
        ),
    ] = None,
) -> None:
    """Cast a ballot: made here (the server never sees your credential), checked by the
    server, and a signed receipt saved."""
    from viche.crypto.rng import SystemRandom
    from viche.errors import Location, UsageError
    from viche.protocol import codec
    from viche.service.ballot import parse_choices
    from viche.service.credentials import read_private_credential
    from viche.service.files import read_bytes, read_text, write_bytes
    from viche.web.client import VotingClient

    cred = read_private_credential(privcred)
    # the secret is the last word (it has no space); the login may hold spaces
    parts = read_text(login, "login").strip().rsplit(maxsplit=1)
    if len(parts) != 2 or "\n" in parts[0]:
        raise UsageError("expected one line 'LOGIN SECRET'", where=Location(file=str(login)))
    client = VotingClient(url)
    try:
        _, election_obj, _ = client.setup(election)
        choices = parse_choices(
            codec.loads(read_bytes(ballot, "ballot choices"), Location(file=str(ballot))),
            election_obj,
            Location(file=str(ballot)),
        )
        cast = client.vote(
            election,
            private_credential=cred,
            choices=choices,
            login=parts[0],
            secret=parts[1],
            rng=SystemRandom(),
        )
    finally:
        client.close()
    target = receipt or ballot.parent / f"{election}-{cast.height}.receipt.json"
    write_bytes(target, cast.receipt.to_bytes() + b"\n")
    out.print(
        f"ballot accepted{' (re-vote: it replaces your earlier ballot)' if cast.revote else ''}"
    )
    out.print(f"tracker: {cast.tracker}")
    out.print(f"receipt: {target}")


def vote_code_cmd(
    url: Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8000")],
    *,
    election: Annotated[str, typer.Option("--election", help="The election's uuid.")],
    login: Annotated[str, typer.Option("--login", help="Your login on the voter roll.")],
) -> None:
    """Ask the server to mail you a one-time code (servers started with --smtp-host); then
    vote with a --login file holding 'LOGIN CODE'."""
    from viche.web.client import VotingClient

    client = VotingClient(url)
    try:
        ttl = client.request_code(election, login)
    finally:
        client.close()
    out.print(
        f"if {login} is on the roll, a one-time code is on its way to its address; "
        f"use it within {ttl} s"
    )


@receipt_app.command("check")
def receipt_check_cmd(
    receipt: Annotated[Path, typer.Argument(help="A receipt saved by viche vote.")],
    archive: Annotated[Path, typer.Argument(help="The public record (.bel or its directory).")],
    key: Annotated[
        str | None, typer.Option("--key", help="The election's published receipt key.")
    ] = None,
) -> None:
    """Offline: is the acknowledged ballot in the record? Exit 0 yes; 1 no, the receipt is
    evidence that the server dropped it; 2 the record predates the receipt."""
    from viche.errors import Location
    from viche.record import read_archive, resolve_archive
    from viche.service.files import read_bytes
    from viche.service.receipts import Verdict, check_receipt, parse_receipt, published_key

    if key is not None:
        key = published_key(key, Location(path=("--key",)))
    signed = parse_receipt(read_bytes(receipt, "receipt"), Location(file=str(receipt)))
    result = check_receipt(signed, read_archive(resolve_archive(archive)), key)
    if result.verdict is Verdict.IN_RECORD:
        out.print(line(("ok", "bold green"), f" {result.message}"))
        return
    if result.verdict is Verdict.DROPPED:
        out.print(line(("EVIDENCE", "bold red"), f" {result.message}"))
        raise typer.Exit(1)
    err.print(line(("not yet", "bold yellow"), f" {result.message}"))
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command("vote")(vote_cmd)
    app.command("vote-code")(vote_code_cmd)
    app.add_typer(receipt_app)
