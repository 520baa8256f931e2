"""The FastAPI application of the voting server."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viche import __version__
from viche.errors import VicheError
from viche.event.hosted import ServedEvent
from viche.service import schedule
from viche.service.hosting import CodeSender, Host
from viche.service.onetime import OneTimeCodes
from viche.web import errors
from viche.web.admission import Admission, AdmissionGate
from viche.web.checkpool import CheckPool
from viche.web.metrics import Metrics
from viche.web.ops import OpsConfig, code_spacing
from viche.web.routers import admin, ballots, ceremony, elections, events, live

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

# The booth and the public pages (static files, no inline script or style): their own
# scripts, module workers and calls to this server only.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
    "style-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
STATIC = Path(__file__).parent / "static"
#: the API's reference page: Viche's own (``static/apidocs``), rendered from the OpenAPI
#: document under the pages' CSP (no script from elsewhere on the election's origin)
DOCS = "/api/v1/docs"


#: the security headers as they go on the wire (lower-case names, latin-1), made once
_SECURITY_RAW = tuple((k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items())
_PAGE_CSP_RAW = (b"content-security-policy", PAGE_CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")


class _SecurityHeaders:
    """The security headers of every answer (and the pages' CSP), as a plain ASGI
    middleware (no task group or stream per request, unlike ``BaseHTTPMiddleware``). A
    header the answer has already is kept (``Cache-Control`` excepted: replaced by
    ``no-store`` for a request with a secret); the headers are added to the answer's list
    as bytes made once, in one pass over it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # a request with a secret (a role's Bearer token, a voter's login): its answer may
        # hold secrets (the roles' at creation, the voters' login secrets), the roll's
        # addresses, a receipt; no browser or proxy cache keeps it
        secret = any(name == b"authorization" for name, _ in scope["headers"])
        page = not path.startswith(("/api/", "/metrics")) or path == DOCS

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message.get("headers", ())
                if secret:  # (names in an ASGI answer are lower-case, as Starlette's)
                    headers = [pair for pair in raw if pair[0] != _NO_STORE[0]]
                    headers.append(_NO_STORE)
                else:
                    headers = list(raw)
                names = {name for name, _ in headers}
                if page and _PAGE_CSP_RAW[0] not in names:
                    headers.append(_PAGE_CSP_RAW)
                    names.add(_PAGE_CSP_RAW[0])
                headers += [pair for pair in _SECURITY_RAW if pair[0] not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, answer)


async def run_schedules(host: Host, every: float, stop: asyncio.Event) -> None:
    """The background task of the app's lifespan: act on the schedules now (a time that
    passed while the server was down is acted on at start), then whenever one is due, and
    at least every ``every`` seconds (schedules set by another process), until ``stop``.
    A check under way finishes before the task ends (it holds a database connection)."""
    while not stop.is_set():
        try:
            due = await run_in_threadpool(schedule.run_due, host, time.time())
        except VicheError as exc:  # the database is down: try again later
            schedule.log.warning("schedules not checked", extra={"error": exc.to_dict()})
            due = None
        wait = every if due is None else min(every, max(0.05, due - time.time()))
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)


def create_app(
    host: Host,
    ops: OpsConfig | None = None,
    metrics_folder: Path | None = None,
    *,
    schedule_every: float = 5.0,
    read_only: bool = False,
    national_events: Sequence[ServedEvent] = (),
    admission: Admission | None = None,
    checks: CheckPool | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """The API over ``host`` (its board, receipt keys and voter authenticator); ``ops`` sets
    the rate limits and the origins allowed (:mod:`viche.web.ops`); ``metrics_folder`` is
    the folder where the worker processes of one server share their counters
    (:mod:`viche.web.metrics`) and their rate limits (:mod:`viche.web.ops`); the schedules
    are checked at start and at least every ``schedule_every`` seconds. ``read_only``
    serves the public record only (an observer's mirror): no casting, no administration,
    no schedules acted on. ``national_events`` are served under ``/api/v1/events``
    (:mod:`viche.web.routers.events`). ``admission``: how many casts a worker takes at once
    (:mod:`viche.web.admission`; by default, as many as it answers within half a second).
    ``checks``: the worker's check processes (:mod:`viche.web.checkpool`), started with the
    app (each loads the elections open now) and stopped with it; without, ballots are
    checked in this process. ``freeze_heap`` (a ``viche serve`` worker, one app per
    process): once started, the objects of the start (modules, app, the elections loaded)
    are moved out of the cyclic garbage collector's reach (:func:`gc.freeze`), so that its
    full collections, which run in the middle of requests, traverse only what came after."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if read_only:
            yield
            return
        warmed: list[str] = []
        try:  # the elections open now, loaded before the first voter comes
            warmed = await run_in_threadpool(host.warm)
        except VicheError as exc:  # the database is down: each is loaded when first used
            schedule.log.warning("elections not loaded at start", extra={"error": exc.to_dict()})
        if checks is not None:
            await run_in_threadpool(checks.start, [host.record(uuid) for uuid in warmed])
        if freeze_heap:
            gc.collect()  # what is garbage now is freed, not frozen
            gc.freeze()
        stop = asyncio.Event()
        task = asyncio.create_task(run_schedules(host, schedule_every, stop))
        try:
            yield
        finally:
            stop.set()
            await task
            if checks is not None:
                await run_in_threadpool(checks.close)
            if isinstance(host.authenticator, OneTimeCodes):
                await run_in_threadpool(host.authenticator.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Viche voting server",
        version=__version__,
        description=(
            "Belenios 2.0 elections on a crash-safe bulletin board. Every public object is "
            "served under its hash; the .bel record is downloadable at any moment; accepted "
            "ballots get a signed receipt. Errors have the body {code, message, where, at}."
        ),
        docs_url=None,
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.host = host
    app.state.metrics = Metrics(metrics_folder)
    app.state.events = {e.id: e for e in national_events}
    app.state.admission = Admission() if admission is None else admission
    if checks is not None:  # the pace its first times assume (viche.web.admission)
        app.state.admission.processes = checks.processes
    app.state.read_only = read_only
    app.state.checks = checks
    app.state.code_requests = None
    limits = ops if ops is not None else OpsConfig()
    app.state.streams = live.StreamSlots(limits.streams_per_address, limits.streams_total)
    sender = host.authenticator
    if isinstance(sender, OneTimeCodes):
        sender.report = app.state.metrics.count
    if isinstance(sender, CodeSender) and sender.resend_after > 0:
        app.state.code_requests = code_spacing(sender.resend_after, metrics_folder)
    if not read_only:  # innermost: rate limits, CORS and the access log see its 503s
        app.add_middleware(ballots.CastRoute)  # inside the admission: the casts it took in
        app.add_middleware(AdmissionGate, admission=app.state.admission, metrics=app.state.metrics)
    errors.install(app)
    app.include_router(elections.router)
    if not read_only:
        app.include_router(ballots.router)
        app.include_router(admin.router)
        app.include_router(ceremony.router)
    app.include_router(live.router)
    app.include_router(events.router)
    from viche.web import ops as operations

    operations.install(app, ops if ops is not None else OpsConfig(), metrics_folder)

    app.add_middleware(_SecurityHeaders)

    @app.get(DOCS, include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "apidocs" / "index.html", media_type="text/html")

    @app.get("/api/v1/health", tags=["operations"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/ready", tags=["operations"], summary="Readiness: the database answers")
    def ready() -> dict[str, str]:
        host.board.elections()  # DatabaseError (503) when the database is down
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics of the server (every worker process)",
        response_class=PlainTextResponse,
    )
    def metrics() -> PlainTextResponse:
        body = app.state.metrics.render(elections.phases(host), schedule.failed(host))
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    # Last: every path the API does not answer is a page (/ and /booth/ serve index.html).
    app.mount("/", StaticFiles(directory=STATIC, html=True), name="pages")
    return app
