"""Casting a ballot: authenticate the voter, run every check, answer once it is durable."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from viche.crypto.hashing import sha256_hex
from viche.errors import Location, NotFoundError, VicheError
from viche.protocol.ballot import max_ballot_size
from viche.service import schedule
from viche.service.audit import refuse_audited, register_audit
from viche.service.cast import cast_ballot, check_phase
from viche.service.hosting import CodeSender, check_binding
from viche.service.receipts import Receipt
from viche.web.deps import election_store, host, json_body
from viche.web.metrics import Metrics
from viche.web.models import ERRORS, AuditAnswer, CastAnswer, ReceiptBody, SignedReceiptModel

router = APIRouter(prefix="/api/v1/elections", tags=["ballots"], responses=ERRORS)

_basic = HTTPBasic(
    description="The voter's login and login secret (handed out with the credential), or "
    "the one-time code mailed to her (POST codes)."
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
        "The answer is the same for a login that is not on the roll."
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
    ttl = await run_in_threadpool(sender.send_code, store.uuid, spec.login)
    return CodeSent(expires_in=ttl)


@router.post(
    "/{uuid}/ballots",
    status_code=201,
    response_model=CastAnswer,
    summary="Cast a ballot (every check; answered once the Ballot event is durable)",
    openapi_extra=_BALLOT_BODY,
)
async def cast(
    request: Request,
    uuid: str,
    credentials: Annotated[HTTPBasicCredentials, Depends(_basic)],
) -> CastAnswer:
    metrics: Metrics = request.app.state.metrics
    start = time.perf_counter()
    try:
        answer = await _cast(request, uuid, credentials)
    except VicheError as exc:
        metrics.cast(time.perf_counter() - start, exc.code)
        raise
    metrics.cast(time.perf_counter() - start)
    return answer


async def _cast(request: Request, uuid: str, credentials: HTTPBasicCredentials) -> CastAnswer:
    h = host(request)
    store = await run_in_threadpool(election_store, request, uuid)
    rec = await run_in_threadpool(h.record, store.uuid)
    account = await run_in_threadpool(
        h.authenticator.authenticate, store.uuid, credentials.username, credentials.password
    )
    await run_in_threadpool(check_phase, rec)
    await run_in_threadpool(schedule.check_before_close, h, store.uuid, time.time())
    raw = await json_body(request, max_ballot_size(rec.election) + 2)
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    check_binding(raw, account)
    await run_in_threadpool(refuse_audited, h.board, store.uuid, raw)
    key = await run_in_threadpool(h.receipt_key, store.uuid)  # before: no ballot without receipt
    accepted = await run_in_threadpool(cast_ballot, rec, raw)
    receipt = Receipt(
        election=store.uuid,
        tracker=accepted.tracker,
        ballot_hash=sha256_hex(raw),
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
    tracker = await run_in_threadpool(register_audit, h.board, rec.election, rec.credentials, raw)
    return AuditAnswer(tracker=tracker)
