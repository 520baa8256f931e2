"""The election's lifecycle: set-up by role, then open, close, decrypt, result.

Each role authenticates with its own secret as a Bearer token: the server administrator
(creates elections), the election's administrator, its credential authority, trustee N.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from viche.crypto.rng import SystemRandom
from viche.errors import Location, MediaTypeError, UsageError
from viche.protocol import codec
from viche.service import admin, schedule, tally
from viche.service import shuffle as mixnet
from viche.service.archive import ElectionRecord
from viche.web.deps import election_store, host, json_body
from viche.web.errors import invalid
from viche.web.models import ERRORS, ResultRow, ScheduleModel, result_rows

router = APIRouter(prefix="/api/v1/elections", tags=["administration"], responses=ERRORS)

_bearer = HTTPBearer(auto_error=False, description="The role's secret.")
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
MAX_UPLOAD = 64 << 20


def role_secret(token: HTTPAuthorizationCredentials | None) -> str | None:
    return token.credentials if token is not None else None


class NewElection(BaseModel):
    template: dict[str, Any] = Field(description="questions, name, description (as belenios)")
    group: str = "BELENIOS-2048"
    trustees: int = Field(1, description="number of trustees (Single, or threshold trustees)")
    threshold: int | None = Field(
        None,
        description="threshold trustees: how many are needed to decrypt (Pedersen key "
        "ceremony, /ceremony); none: Single trustees, each uploads its key",
    )


class CreatedModel(BaseModel):
    uuid: str
    administrator: str = Field(description="the administrator's secret (shown once)")
    credential_authority: str = Field(description="the credential authority's secret")
    trustees: list[str] = Field(description="each trustee's secret, trustee 1 first")


class RollAnswer(BaseModel):
    voters: int
    login_secrets: dict[str, str] = Field(description="login -> secret, for the post office")


class Count(BaseModel):
    count: int


class Opened(BaseModel):
    uuid: str
    fingerprint: str


class ClosedModel(BaseModel):
    ballots: int
    counted: int
    total_weight: int


def _body(media_type: str, schema: dict[str, Any], what: str) -> dict[str, Any]:
    """The request body of an operation that reads its body itself, for the document."""
    content = {media_type: {"schema": schema}}
    return {"requestBody": {"required": True, "description": what, "content": content}}


_JSON_OBJECT: dict[str, Any] = {"type": "object"}
_TEXT: dict[str, Any] = {"type": "string"}


#: the types a text body may be sent as (none said: taken as text too, as curl --data-binary
#: and most scripts send it)
_TEXT_TYPES = ("text/csv", "text/plain")


async def _phase_first(rec: ElectionRecord, check: Callable[[ElectionRecord], None]) -> None:
    """``rec`` brought up to date and ``check`` (the phase a trustee's upload needs) run in
    a worker thread, before its body is read: no body is read in the wrong phase."""

    def now() -> None:
        rec.refresh()
        check(rec)

    await run_in_threadpool(now)


async def _text(request: Request, limit: int = MAX_UPLOAD) -> str:
    """A text body (the roll's CSV, a trustee's two lines): a form upload or JSON is refused
    for its type, never read line by line."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in _TEXT_TYPES:
        raise MediaTypeError(
            f"expected Content-Type {' or '.join(_TEXT_TYPES)}, got {ctype[:64]!r}",
            where=Location(path=("content-type",)),
        )
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            from viche.errors import TooLargeError

            raise TooLargeError(f"at most {limit} bytes", where=Location(path=("body",)))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the body is not UTF-8 text", where=Location(path=("body",))) from None


@router.post(
    "",
    status_code=201,
    response_model=CreatedModel,
    summary="Create an election",
    openapi_extra=_body(
        "application/json", NewElection.model_json_schema(), "the template and the trustees"
    ),
)
async def create(request: Request, token: Token) -> CreatedModel:
    h = host(request)
    await run_in_threadpool(
        admin.authorize, h.board, admin.SERVER, admin.SERVER_ADMIN, role_secret(token)
    )
    body = codec.loads(await json_body(request, 1 << 20), Location(path=("body",)))
    try:
        spec = NewElection.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc.errors(), Location(path=("body",))) from None
    made = await run_in_threadpool(
        admin.create_draft,
        h.board,
        spec.template,
        SystemRandom(),
        group=spec.group,
        trustees=spec.trustees,
        threshold=spec.threshold,
    )
    return CreatedModel(
        uuid=made.uuid,
        administrator=made.administrator,
        credential_authority=made.credential_authority,
        trustees=made.trustees,
    )


class DraftModel(BaseModel):
    uuid: str
    group: str = Field(description="the group every key and credential is made in")
    trustees: int
    threshold: int | None = Field(None, description="none: Single trustees")


@router.get(
    "/{uuid}/draft",
    response_model=DraftModel,
    summary="An election being set up: its group and trustees (what the roles need to make "
    "their keys and credentials), until it opens",
)
def get_draft(request: Request, uuid: str) -> DraftModel:
    d = admin.load_draft(host(request).board, uuid)
    return DraftModel(uuid=d.uuid, group=d.group, trustees=d.trustees, threshold=d.threshold)


@router.put(
    "/{uuid}/voters",
    response_model=RollAnswer,
    summary="Import the voter roll (CSV)",
    openapi_extra=_body("text/csv", _TEXT, "one voter a line: address,login,weight"),
)
async def put_voters(request: Request, uuid: str, token: Token) -> RollAnswer:
    h = host(request)
    await run_in_threadpool(admin.authorize, h.board, uuid, admin.ADMIN, role_secret(token))
    text = await _text(request)
    secrets = await run_in_threadpool(admin.import_roll, h.board, uuid, text)
    return RollAnswer(voters=len(secrets), login_secrets=secrets)


@router.get("/{uuid}/voters", summary="The voter roll (for the credential authority)")
def get_voters(request: Request, uuid: str, token: Token) -> Response:
    h = host(request)
    admin.authorize(h.board, uuid, admin.AUTHORITY, role_secret(token))
    return Response(admin.load_draft(h.board, uuid).voter_lines(), media_type="text/csv")


@router.put(
    "/{uuid}/credentials",
    response_model=Count,
    summary="Upload T.pubcreds",
    openapi_extra=_body("application/json", {}, "T.pubcreds, as generate-credentials writes"),
)
async def put_credentials(request: Request, uuid: str, token: Token) -> Count:
    h = host(request)
    await run_in_threadpool(admin.authorize, h.board, uuid, admin.AUTHORITY, role_secret(token))
    raw = await json_body(request, MAX_UPLOAD)
    return Count(count=await run_in_threadpool(admin.upload_credentials, h.board, uuid, raw))


@router.put(
    "/{uuid}/trustees/{n}",
    status_code=204,
    summary="Upload a trustee's public key",
    openapi_extra=_body("application/json", _JSON_OBJECT, "the trustee's public key"),
)
async def put_trustee(request: Request, uuid: str, n: int, token: Token) -> Response:
    h = host(request)
    await run_in_threadpool(
        admin.authorize, h.board, uuid, admin.trustee_role(n), role_secret(token)
    )
    raw = await json_body(request, 1 << 20)
    await run_in_threadpool(admin.upload_trustee_key, h.board, uuid, n, raw)
    return Response(status_code=204)


class ScheduleRequest(BaseModel):
    open: str | None = Field(
        None, description="open the vote at this time (ISO 8601 UTC, e.g. 2026-05-01T06:00:00Z)"
    )
    close: str | None = Field(None, description="close the vote at this time (ISO 8601 UTC)")


class ScheduleFailure(BaseModel):
    action: str = Field(description="open or close: the step that failed")
    code: str = Field(description="the error's code (V…)")
    message: str
    at: str = Field(description="when the last attempt failed, ISO 8601 UTC")
    attempts: int = Field(description="failed attempts in a row")
    retry: str = Field(description="when it is tried again, ISO 8601 UTC")


class ScheduleAnswer(ScheduleModel):
    failed: ScheduleFailure | None = Field(
        None,
        description="the last failure of the scheduled opening or closing, if it has not "
        "succeeded since (only with the administrator's secret; null otherwise)",
    )


@router.put(
    "/{uuid}/schedule",
    response_model=ScheduleAnswer,
    summary="Set when the vote opens and closes by itself",
    description=(
        "Times in the future, in UTC; null leaves that step to the administrator. The server "
        "checks the schedules at start and periodically: a draft is opened (Setup event) at "
        "its opening time, an open election closed (EndBallots, encrypted tally) at its "
        "closing time, also when that time passed while the server was down. Ballots are "
        "refused from the closing time on. A scheduled step that fails is kept (see GET) "
        f"and tried again every {schedule.RETRY_AFTER} s until it succeeds; a new schedule "
        "clears it (and is tried at once)."
    ),
)
async def put_schedule(
    request: Request, uuid: str, token: Token, spec: ScheduleRequest
) -> ScheduleAnswer:
    h = host(request)
    await run_in_threadpool(admin.authorize, h.board, uuid, admin.ADMIN, role_secret(token))
    at = {
        name: None if text is None else schedule.parse_time(text, Location(path=("body", name)))
        for name, text in (("open", spec.open), ("close", spec.close))
    }
    done = await run_in_threadpool(
        schedule.set_schedule, h, uuid, at["open"], at["close"], time.time()
    )
    return ScheduleAnswer(open=done.open, close=done.close, failed=None)


@router.get(
    "/{uuid}/schedule",
    response_model=ScheduleAnswer,
    summary="When the vote opens, closes; and, for the administrator, a failed step",
    description=(
        "Public: the opening and closing times. With the election administrator's secret "
        "(Bearer) also `failed`: the last failure of the scheduled opening or closing (the "
        "error's code and message, when, attempts in a row, the next attempt), until a "
        "later attempt succeeds, the administrator opens or closes by hand, or sets a new "
        "schedule."
    ),
)
def get_schedule(request: Request, uuid: str, token: Token) -> ScheduleAnswer:
    h = host(request)
    found = schedule.times(h, uuid)
    answer = ScheduleAnswer(open=found.open, close=found.close, failed=None)
    if token is None:
        return answer
    admin.authorize(h.board, uuid, admin.ADMIN, role_secret(token))
    failed = schedule.failure(h, uuid)
    if failed is not None:
        answer.failed = ScheduleFailure(
            action=failed.action,
            code=failed.code,
            message=failed.message,
            at=str(schedule.format_time(failed.at)),
            attempts=failed.attempts,
            retry=str(schedule.format_time(failed.at + schedule.RETRY_AFTER)),
        )
    return answer


@router.post("/{uuid}/open", response_model=Opened, summary="Open the vote (Setup event)")
def open_vote(request: Request, uuid: str, token: Token) -> Opened:
    h = host(request)
    admin.authorize(h.board, uuid, admin.ADMIN, role_secret(token))
    admin.open_draft(h.board, h.keys_dir, uuid)
    schedule.settled(h, uuid)
    return Opened(uuid=uuid, fingerprint=h.record(uuid).election.fingerprint)


@router.post("/{uuid}/close", response_model=ClosedModel, summary="Close: EndBallots, tally")
def close_vote(request: Request, uuid: str, token: Token) -> ClosedModel:
    h = host(request)
    election_store(request, uuid)
    admin.authorize(h.board, uuid, admin.ADMIN, role_secret(token))
    done = tally.close(h.record(uuid), jobs=1)
    schedule.settled(h, uuid)
    return ClosedModel(
        ballots=done.ballots, counted=done.num_tallied, total_weight=done.total_weight
    )


@router.post(
    "/{uuid}/trustees/{n}/decryption",
    response_model=Count,
    summary="A trustee's partial decryption (the two lines of viche tally decrypt)",
    openapi_extra=_body("text/plain", _TEXT, "partial_decryption and owned, one a line"),
)
async def post_decryption(request: Request, uuid: str, n: int, token: Token) -> Count:
    h = host(request)
    election_store(request, uuid)
    await run_in_threadpool(
        admin.authorize, h.board, uuid, admin.trustee_role(n), role_secret(token)
    )
    rec = h.record(uuid)
    await _phase_first(rec, mixnet.check_can_decrypt)
    lines = await _owned_lines(request, n, "partial_decryption")
    owner = await run_in_threadpool(
        tally.add_decryption, rec, tally.DecryptionLines(lines[0], lines[1])
    )
    return Count(count=owner)


async def _owned_lines(request: Request, n: int, what: str) -> list[bytes]:
    """The two lines a trustee's tool prints (``what``, then its owned wrapper), owned by n."""
    lines = [ln.encode() for ln in (await _text(request, MAX_UPLOAD)).split("\n") if ln]
    if len(lines) != 2:
        raise UsageError(
            f"expected 2 lines ({what}, owned), found {len(lines)}",
            where=Location(path=("body",)),
        )
    owned = codec.loads(lines[1], Location(path=("owned",)))
    if not isinstance(owned, dict) or owned.get("owner") != n:
        raise UsageError(f"this {what} is not trustee {n}'s", where=Location(trustee=n))
    return lines


@router.post(
    "/{uuid}/trustees/{n}/shuffle",
    response_model=Count,
    summary="A trustee's shuffle of the ranked questions (the two lines of viche tally shuffle)",
    description=(
        "After the close, each trustee in turn downloads the archive, runs "
        "`viche tally shuffle --dir D --trustee-id N` on its own machine (which re-checks "
        "every shuffle already made) and posts the two lines; the proof is checked against "
        "the current ciphertexts before the Shuffle event is appended."
    ),
)
async def post_shuffle(request: Request, uuid: str, n: int, token: Token) -> Count:
    h = host(request)
    election_store(request, uuid)
    await run_in_threadpool(
        admin.authorize, h.board, uuid, admin.trustee_role(n), role_secret(token)
    )
    rec = h.record(uuid)
    await _phase_first(rec, mixnet.check_can_shuffle)
    lines = await _owned_lines(request, n, "shuffle")
    owner = await run_in_threadpool(
        mixnet.add_shuffle, rec, mixnet.ShuffleLines(lines[0], lines[1])
    )
    return Count(count=owner)


@router.post(
    "/{uuid}/shuffles/end",
    response_model=Count,
    summary="Close the shuffles (EndShuffles); the trustees can then decrypt",
)
def end_shuffles(request: Request, uuid: str, token: Token) -> Count:
    h = host(request)
    election_store(request, uuid)
    admin.authorize(h.board, uuid, admin.ADMIN, role_secret(token))
    return Count(count=mixnet.end_shuffles(h.record(uuid)))


@router.post("/{uuid}/result", response_model=list[ResultRow], summary="Publish the result")
def post_result(request: Request, uuid: str, token: Token) -> list[ResultRow]:
    h = host(request)
    election_store(request, uuid)
    admin.authorize(h.board, uuid, admin.ADMIN, role_secret(token))
    _, rows = tally.publish_result(h.record(uuid))
    return result_rows(rows)
