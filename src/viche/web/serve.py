"""The application factory uvicorn runs (``viche serve``), configured by the environment.

``VICHE_DATABASE`` (a database URL), ``VICHE_KEYS`` (the folder of receipt keys) and
``VICHE_METRICS`` (the folder where the workers share their counters) are set by ``viche
serve`` before uvicorn starts its worker processes; each worker opens its own
connection pool on the same board.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from viche.errors import Location, UsageError
from viche.record.sql import SqlBoard
from viche.service.files import read_text
from viche.service.hosting import Host, VoterAuthenticator
from viche.service.onetime import SECURITY, OneTimeCodes, SmtpMailer
from viche.web.admission import ARRIVED, QUEUE_FILE, Admission, SlotQueue
from viche.web.app import create_app
from viche.web.checkpool import CheckPool
from viche.web.ops import LineWriter, OpsConfig, configure_logs

ENV_DATABASE = "VICHE_DATABASE"
ENV_KEYS = "VICHE_KEYS"
#: the folder where the worker processes share their metrics (:mod:`viche.web.metrics`)
ENV_METRICS = "VICHE_METRICS"
#: ``off`` turns the rate limits off (benchmarks that load the server from one address);
#: ``address=PER_SECOND/BURST,voter=PER_SECOND/BURST`` sets them (:meth:`OpsConfig.parse`)
ENV_LIMITS = "VICHE_RATE_LIMITS"
#: the origins allowed to call the API from a browser (comma list; none by default)
ENV_CORS = "VICHE_CORS_ORIGINS"
#: ``HOST|PORT|FROM``: voters authenticate with one-time codes mailed through this server
ENV_SMTP = "VICHE_SMTP"
#: how it is reached (:data:`~viche.service.onetime.SECURITY`; ``auto`` when unset), the
#: CA file its certificate is checked against (the system's CAs when unset), the user it
#: is logged in as, and that user's password: in a file (``…_PASSWORD_FILE``) or, failing
#: that, in the environment itself (``…_PASSWORD``); never on a command line
ENV_SMTP_TLS = "VICHE_SMTP_TLS"
ENV_SMTP_CA_FILE = "VICHE_SMTP_CA_FILE"
ENV_SMTP_USER = "VICHE_SMTP_USER"
ENV_SMTP_PASSWORD_FILE = "VICHE_SMTP_PASSWORD_FILE"  # noqa: S105 (a variable's name)
ENV_SMTP_PASSWORD = "VICHE_SMTP_PASSWORD"  # noqa: S105 (a variable's name)
#: the caps of live event streams, ``PER_ADDRESS/TOTAL`` in each worker (0: no cap; ``off``)
ENV_STREAMS = "VICHE_LIVE_STREAMS"
#: seconds between checks of the schedules
ENV_SCHEDULE = "VICHE_SCHEDULE_EVERY"
#: a national event's directory, and the folder of its keys (``viche serve --event``)
ENV_EVENT = "VICHE_EVENT"
ENV_EVENT_KEYS = "VICHE_EVENT_KEYS"
#: seconds a cast may wait in a worker before new ones get 503 + Retry-After (0: no bound)
ENV_CAST_WAIT = "VICHE_CAST_WAIT"
#: the worker processes of the server (``viche serve --workers``): their admissions share
#: the queue of voters told to come back (:class:`~viche.web.admission.SlotQueue`)
ENV_WORKERS = "VICHE_WORKERS"
#: check processes of each worker (:mod:`viche.web.checkpool`; ``viche serve`` sets one per
#: core shared out among its workers, :func:`~viche.web.checkpool.check_processes`, unless
#: the environment already names a number: benchmarks compare; 0 checks in the worker)
ENV_CHECKS = "VICHE_CHECK_PROCESSES"
#: seconds a thread holding the GIL keeps it while another waits (Python's default: 5 ms).
#: A worker's event loop takes the GIL back for each callback (uvloop runs libuv without
#: it); behind busy checking and committing threads, a traced burst's connections were
#: accepted ~5 ms apart, up to 2 s after the client had written its request (waiting in
#: the kernel's accept queue, where no admission can see them). With 0.5 ms the 1-worker
#: bursts kept accepted p99 under 1 s (bench/serve_ingest/README.md, branch burst)
SWITCH_INTERVAL = 0.0005


def smtp_mailer(environ: Mapping[str, str]) -> SmtpMailer | None:
    """The mail server of ``environ`` (:data:`ENV_SMTP` and the variables after it), or
    None when codes are not mailed."""
    smtp = environ.get(ENV_SMTP)
    if not smtp:
        return None
    host, port, sender = smtp.split("|", 2)
    password_file = environ.get(ENV_SMTP_PASSWORD_FILE)
    password = (
        read_text(Path(password_file), "SMTP password file").rstrip("\r\n")
        if password_file
        else environ.get(ENV_SMTP_PASSWORD)
    )
    security = environ.get(ENV_SMTP_TLS) or "auto"
    if security not in SECURITY:
        raise UsageError(
            f"one of {', '.join(SECURITY)}; got {security[:16]!r}",
            where=Location(path=(ENV_SMTP_TLS,)),
        )
    return SmtpMailer(
        host,
        int(port),
        sender,
        security=security,
        ca_file=environ.get(ENV_SMTP_CA_FILE) or None,
        user=environ.get(ENV_SMTP_USER) or None,
        password=password or None,
    )


#: ``struct tcp_info`` (Linux): ``tcpi_last_data_recv``, milliseconds since the connection last
#: received data (or was established, if it has received none), at this byte offset
_LAST_DATA_RECV = 52
_TCP_INFO: int | None = getattr(socket, "TCP_INFO", None)


def queued(sock: Any) -> float:
    """Seconds since ``sock`` (an accepted TCP connection) last received data or was
    established: for a connection just accepted, how long it waited in the kernel's accept
    queue, its request's head included (0.0 where the kernel does not tell: not Linux)."""
    if _TCP_INFO is None or sock is None:
        return 0.0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _LAST_DATA_RECV + 4)
    except (OSError, AttributeError):
        return 0.0
    if len(info) < _LAST_DATA_RECV + 4:
        return 0.0
    return int(struct.unpack_from("I", info, _LAST_DATA_RECV)[0]) / 1000


class ArrivalStamps(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools), which also gives the app when each request
    reached this machine (scope extension :data:`~viche.web.admission.ARRIVED`,
    ``time.monotonic()``): a connection's first request counts the time it waited in the
    kernel's accept queue, a later one (a voter's retry over her kept connection) the time
    it waited to be read.

    In a burst a worker's event loop refuses the connections it has accepted (hundreds of
    503s, ~0.3-0.7 ms each) before it accepts the next ones: a PostgreSQL one-worker burst
    (bench/serve_ingest/README.md, pgwave7) had a quarter of its first wave accepted 0.4-0.8
    s after the client wrote them, then taken in (the admission had room by then) and
    answered after more than a second. The admission counts that wait
    (:meth:`~viche.web.admission.Admission.enter`). A request begins as its first bytes
    are read: the kernel's ``TCP_INFO`` (:func:`queued`) then tells since when the
    connection has received nothing, i.e. since its head came (the request waited at least
    that long, if more has come since); one ``getsockopt``, ~2.5 µs, per request."""

    _socket: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._socket = transport.get_extra_info("socket")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        arrived = time.monotonic() - queued(self._socket)
        scope = getattr(self, "scope", None)  # uvicorn's, set by the call above
        if isinstance(scope, dict):
            # merged into what is there, not replaced; a uvicorn that set no scope here would
            # only lose the stamp (the admission then counts from the gate), never a request
            scope.setdefault("extensions", {})[ARRIVED] = {"at": arrived}


def build_app() -> FastAPI:
    sys.setswitchinterval(SWITCH_INTERVAL)
    url = os.environ.get(ENV_DATABASE)
    keys = os.environ.get(ENV_KEYS)
    if not url or not keys:
        raise UsageError(f"{ENV_DATABASE} and {ENV_KEYS} must be set (use viche serve)")
    logs = configure_logs()
    limits = os.environ.get(ENV_LIMITS)
    ops = OpsConfig.parse(limits) if limits else OpsConfig()
    streams = os.environ.get(ENV_STREAMS)
    if streams:
        ops = OpsConfig.parse_streams(streams, ops)
    ops = replace(ops, cors_origins=OpsConfig.parse_origins(os.environ.get(ENV_CORS, "")))
    board = SqlBoard.open(url)
    authenticator: VoterAuthenticator | None = None
    mailer = smtp_mailer(os.environ)
    if mailer is not None:
        authenticator = OneTimeCodes(board, mailer)
    every = float(os.environ.get(ENV_SCHEDULE, "5"))
    shared = os.environ.get(ENV_METRICS)
    host = Host(board, Path(keys), authenticator)
    event, event_keys = os.environ.get(ENV_EVENT), os.environ.get(ENV_EVENT_KEYS)
    national = []
    if event and event_keys:
        from viche.event.hosted import open_served_event

        national.append(open_served_event(host, Path(event), Path(event_keys)))
    wait = float(os.environ.get(ENV_CAST_WAIT, "0.5"))
    processes = int(os.environ.get(ENV_CHECKS, "0"))
    app = create_app(
        host,
        ops,
        Path(shared) if shared else None,
        schedule_every=every,
        national_events=national,
        admission=Admission(
            target=wait,
            workers=int(os.environ.get(ENV_WORKERS, "1")) if shared else 1,
            queue=SlotQueue(Path(shared) / QUEUE_FILE if shared else None),
        ),
        checks=CheckPool(processes) if processes > 0 else None,
        freeze_heap=True,
    )
    logs.report = app.state.metrics.count
    flush_logs_at_shutdown(app, logs)
    return app


def flush_logs_at_shutdown(app: FastAPI, logs: LineWriter) -> None:
    """The log's lines written before ``app``'s lifespan ends: uvicorn ends it after the
    last request, then raises the SIGTERM it caught again, which kills the process without
    exit handlers (the lines still queued for the writer thread would be lost)."""
    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def flushed(served: FastAPI) -> AsyncIterator[Any]:
        try:
            async with lifespan(served) as state:
                yield state
        finally:
            await run_in_threadpool(logs.flush)

    app.router.lifespan_context = flushed
