"""Casting a ballot: authenticate the voter, run every check, answer once it is durable."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from viche.errors import (
    AuthenticationError,
    Location,
    NotFoundError,
    RateLimitedError,
    VicheError,
)
from viche.protocol.ballot import CheckedFacts, max_ballot_size
from viche.record.sql.accounts import VoterAccount, voter_and_state
from viche.service import schedule
from viche.service.audit import register_audit
from viche.service.cast import Accepted, append_checked, append_checked_queued, check_phase
from viche.service.hosting import CodeSender, Host, check_binding
from viche.service.receipts import Receipt
from viche.verify.prefill import check_ballot_fast
from viche.web.checkpool import CheckPool
from viche.web.deps import election_store, host, json_body, valid_uuid
from viche.web.errors import handled_response
from viche.web.metrics import Metrics
from viche.web.models import ERRORS, AuditAnswer, CastAnswer, ReceiptBody, SignedReceiptModel
from viche.web.ops import CAST_PATH, RateLimiter, basic_pair

router = APIRouter(prefix="/api/v1/elections", tags=["ballots"], responses=ERRORS)


class _Utf8Basic(HTTPBasic):
    """FastAPI's HTTP Basic (its OpenAPI scheme and 401 challenge) reading the header as
    UTF-8 (:func:`~viche.web.ops.basic_pair`): FastAPI's reads it as ASCII, so a voter of a
    Ukrainian roll (``олена``) could never sign in."""

    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials:  # type: ignore[override]
        pair = basic_pair(request.headers.get("authorization", ""))
        if pair is None:  # refused before the route: counted as the route counts its refusals
            metrics: Metrics = request.app.state.metrics
            metrics.cast(0.0, AuthenticationError.code)
            raise self.make_not_authenticated_error()
        return HTTPBasicCredentials(username=pair[0], password=pair[1])


_basic = _Utf8Basic(
    description="The voter's login and login secret (handed out with the credential), or "
    "the one-time code mailed to her (POST codes), UTF-8 encoded."
)

_BALLOT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the ballot, exactly as generated (canonical compact JSON)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


class CodeRequest(BaseModel):
    login: str = Field(description="the voter's login on the roll", max_length=255)


class CodeSent(BaseModel):
    expires_in: int = Field(description="seconds the code can be used (once)")


@router.post(
    "/{uuid}/codes",
    status_code=202,
    response_model=CodeSent,
    summary="Mail a one-time code to the voter's address on the roll (then cast with it)",
    description=(
        "On a server started with --smtp-host. The code replaces any previous one; it is "
        "used as the password of the ballot's Basic authentication (login:code), once. "
        "The answer is given at once (the mail follows) and is the same for a login that "
        "is not on the roll; a login may be asked for once every 30 s (429)."
    ),
)
async def request_code(request: Request, uuid: str, spec: CodeRequest) -> CodeSent:
    h = host(request)
    store = await run_in_threadpool(election_store, request, uuid)
    sender = h.authenticator
    if not isinstance(sender, CodeSender):
        raise NotFoundError(
            "this server does not send one-time codes", where=Location(path=("codes",))
        )
    await run_in_threadpool(check_phase, await run_in_threadpool(h.record, store.uuid))
    # spaced per login asked for, on the roll or not: a 429 must not tell which
    spacing: RateLimiter | None = request.app.state.code_requests
    if spacing is not None and (wait := spacing.take(f"{store.uuid}|{spec.login}")):
        raise RateLimitedError(
            f"a code was asked for this login less than {sender.resend_after} s ago: "
            f"ask again in {max(1, round(wait + 0.5))} s",
            where=Location(path=("login",)),
        )
    ttl = await run_in_threadpool(sender.send_code, store.uuid, spec.login)
    return CodeSent(expires_in=ttl)


@router.post(
    "/{uuid}/ballots",
    status_code=201,
    response_model=CastAnswer,
    summary="Cast a ballot (every check; answered once the Ballot event is durable)",
    description=(
        "The voter authenticates with HTTP Basic: her login and login secret, or the "
        "one-time code mailed to her. The answer holds the ballot's tracker, its event "
        "and the receipt signed with the election's key. A server that is full answers "
        "503 (V9016) at once, with the wait in retry_after_ms and Retry-After."
    ),
    openapi_extra=_BALLOT_BODY,
)
async def cast(
    request: Request,
    uuid: str,
    credentials: Annotated[HTTPBasicCredentials, Depends(_basic)],
) -> Response:
    """A cast the worker took in (:class:`~viche.web.admission.AdmissionGate` answers the
    others 503 before they get here)."""
    metrics: Metrics = request.app.state.metrics
    start = time.perf_counter()
    try:
        answer = await _cast(request, uuid, credentials)
    except VicheError as exc:
        metrics.cast(time.perf_counter() - start, exc.code)
        raise
    metrics.cast(time.perf_counter() - start)
    # the answer is built and checked once (CastAnswer): not validated again on the way out
    return Response(answer.model_dump_json(), status_code=201, media_type="application/json")


class CastRoute:
    """The cast route's own dispatch, innermost of the app's middlewares (inside the
    admission): ``POST /api/v1/elections/{uuid}/ballots`` with an HTTP Basic login goes
    straight to :func:`cast`, without the router's search over every route of the app,
    FastAPI's dependency solving and its exception middleware (~0.15 ms less of the event
    loop's CPU per cast; bench/serve_ingest/README.md, wrk7). The same checks in the
    same order: the path's uuid as the route reads it, the login as :class:`_Utf8Basic`
    reads it, then :func:`cast`; its errors answered as the app's handlers answer them
    (:func:`~viche.web.errors.handled_response`), any other exception left to the
    server's 500. Everything else, a cast without a readable login included (its 401 and
    metrics are the route's), goes on to the app: the route stays the API's one
    declaration (OpenAPI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = CAST_PATH.fullmatch(scope["path"])
            if path is not None:
                authorization = next(
                    (v for name, v in scope["headers"] if name == b"authorization"), b""
                )
                pair = basic_pair(authorization.decode("latin-1"))
                if pair is not None:
                    credentials = HTTPBasicCredentials(username=pair[0], password=pair[1])
                    try:
                        response = await cast(Request(scope, receive), path[1], credentials)
                    except (VicheError, ValidationError) as exc:
                        response = handled_response(exc)
                        # as Starlette's handlers do: an error raised to several casts (a
                        # failed group commit's) would gather each one's frames
                        exc.__traceback__ = None
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class FifoSlots:
    """At most ``slots`` threads inside at once; the others wait and get in strictly in the
    order they came: a slot given back goes straight to the first waiter, never to a
    thread that arrives meanwhile.

    (:class:`threading.Semaphore` is not fair: a woken waiter that finds its slot taken by
    a newcomer waits again at the back of the queue. With 64 casts waiting for two checks,
    a cast taken in by the admission was overtaken by hundreds of later ones and waited
    over a second, not the half-second the admission promised.)"""

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiting: deque[threading.Lock] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the thread that hands its slot over

    def __exit__(self, *_: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the slot goes on, taken
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiting)


#: Without check processes (an app made without a :class:`CheckPool`: tests, benches in one
#: process), ballot checks running at once in this worker process: one per core. The modular
#: arithmetic of a check (most of its time) runs with the GIL released
#: (:mod:`viche.crypto.fastexp`'s C engine), so checks of one worker run on several cores
#: at once; more than the cores would only interleave them (every ballot waits for all the
#: others) and hold more ballots in memory. The others wait in :func:`_check_and_accept`
#: (a thread each, let in in the order they came: :class:`FifoSlots`).
_CHECKS = max(2, os.cpu_count() or 1)
_checking = FifoSlots(_CHECKS)
#: Casts past their login held by a thread at once in this worker (without check
#: processes: waiting for a check, in one, or in the group commit; with them, only the
#: casts of an election with a guard, :attr:`~viche.service.hosting.Host.guards`, whose
#: append runs in a thread): the admission's ceiling. They have threads of their own, so
#: that a burst does not take the threads every other request needs (the default pool of
#: 40); beyond, a cast waits for one without holding a thread.
_CAST_THREADS = 64
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def _cast_threads() -> anyio.CapacityLimiter:
    """This event loop's limiter (a test may run the app in several loops, one at a time)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(_CAST_THREADS)
    return limiter


def _voter(h: Host, uuid: str, credentials: HTTPBasicCredentials) -> tuple[str, VoterAccount]:
    """The election (404), the voter, its phase and closing time (nothing is read after the
    close; both are checked again under the lock), its receipt key (no ballot is checked
    that could not get a receipt). The voter's entry and the voting state are one look-up
    (:func:`~viche.record.sql.accounts.voter_and_state`)."""
    store = h.store(uuid)
    found, head, close_at = voter_and_state(h.board, store.uuid, credentials.username)
    account = h.authenticator.authenticate(store.uuid, found, credentials.password)
    check_phase(h.record(store.uuid), head)
    schedule.refuse_after_close(store.uuid, close_at, time.time())
    h.receipt_key(store.uuid)
    return store.uuid, account


def _check(h: Host, uuid: str, raw: bytes, account: VoterAccount) -> CheckedFacts:
    """Every check of the ballot itself in this process (a worker without check
    processes), and its binding to the voter (audits, replays, re-votes, the phase and the
    closing time are checked under the lock, at the append)."""
    rec = h.record(uuid)
    with _checking:
        checked = check_ballot_fast(rec.election, raw, rec.credentials)
    check_binding(checked, account)
    return checked


def _accept(h: Host, uuid: str, checked: CheckedFacts) -> CastAnswer:
    """Append (a group commit with the other ballots of this worker ready meanwhile) and
    sign the receipt."""
    accepted = append_checked(h.record(uuid), checked, guard=h.guards.get(uuid))
    return _answer(h, uuid, checked, accepted)


def _answer(h: Host, uuid: str, checked: CheckedFacts, accepted: Accepted) -> CastAnswer:
    """The answer to a cast whose Ballot event is durable, with its signed receipt."""
    key = h.receipt_key(uuid)
    receipt = Receipt(
        election=uuid,
        tracker=accepted.tracker,
        ballot_hash=checked.hex_hash,
        height=accepted.height,
        event_hash=accepted.event_hash,
        time=datetime.now(UTC).isoformat(timespec="seconds"),
        key=key.public,
    )
    signed = key.sign(receipt)
    return CastAnswer(
        tracker=accepted.tracker,
        height=accepted.height,
        event_hash=accepted.event_hash,
        revote=accepted.revote,
        receipt=SignedReceiptModel(
            receipt=ReceiptBody(**receipt.to_json()),
            signature=signed.signature,
        ),
    )


def _check_and_accept(h: Host, uuid: str, raw: bytes, account: VoterAccount) -> CastAnswer:
    """Without check processes: the check here (at most ``_CHECKS`` at once in this
    process), then the append, in one thread: one hop from the event loop instead of two."""
    return _accept(h, uuid, _check(h, uuid, raw, account))


async def _cast(request: Request, uuid: str, credentials: HTTPBasicCredentials) -> CastAnswer:
    """The login in a thread (database); the check in a check process and the group commit
    awaited on the event loop (no thread waits for either: :class:`CheckPool`,
    :func:`~viche.service.cast.append_checked_queued`); the receipt."""
    h = host(request)
    valid_uuid(uuid)
    uuid, account = await run_in_threadpool(_voter, h, uuid, credentials)
    rec = h.record(uuid)  # loaded by the login
    raw = await json_body(request, max_ballot_size(rec.election) + 2)
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    checks: CheckPool | None = request.app.state.checks
    if checks is None:
        return await anyio.to_thread.run_sync(
            _check_and_accept, h, uuid, raw, account, limiter=_cast_threads()
        )
    checked = await checks.check(rec, raw)
    check_binding(checked, account)
    if uuid in h.guards:  # an event's own rules, under the lock: appended in a thread
        return await anyio.to_thread.run_sync(_accept, h, uuid, checked, limiter=_cast_threads())
    return _answer(h, uuid, checked, await append_checked_queued(rec, checked))


@router.post(
    "/{uuid}/audits",
    status_code=201,
    response_model=AuditAnswer,
    summary="Audit a ballot: checked, remembered, and never cast (its randomness is revealed)",
    openapi_extra=_BALLOT_BODY,
)
async def audit(request: Request, uuid: str) -> AuditAnswer:
    """The booth posts a ballot here before it reveals its randomness; a ballot posted here
    is refused by ``POST /ballots`` forever (code V3008). No login: only a ballot the
    booth made can be posted, and nobody else has it."""
    h = host(request)
    store = await run_in_threadpool(election_store, request, uuid)
    rec = await run_in_threadpool(h.record, store.uuid)
    raw = await json_body(request, max_ballot_size(rec.election) + 2)
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    tracker = await run_in_threadpool(
        register_audit, h.board, store, rec.election, rec.credentials, raw
    )
    return AuditAnswer(tracker=tracker)
