"""A national event served by this server (``viche serve --event DIR``,
:mod:`viche.event.hosted`): its published files, its live per-channel turnout, and the two
channels that are not the online booth — a polling station's casting and a unit's relay
batch.

Each ballot style is an election of ``/api/v1/elections`` (online ballots go there, and
refuse a credential locked by a station vote); its ``.bel`` is also served here under the
style's archive path, so that a folder downloaded from ``/api/v1/events/{id}/…`` is the
event directory ``viche verify DIR`` checks.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from viche.errors import (
    AuthenticationError,
    EnrolmentError,
    Location,
    NotFoundError,
    UsageError,
)
from viche.event.channels import Cast
from viche.event.hosted import MAX_BATCH, RELAY, STATION, ServedEvent, total_turnout
from viche.event.registry import MILITARY_UNIT_RE, VOTER_ID_RE
from viche.service.receipts import SignedReceipt
from viche.web.deps import json_body
from viche.web.models import ERRORS, ReceiptBody, SignedReceiptModel
from viche.web.routers.elections import get_archive

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERRORS)

_bearer = HTTPBearer(
    auto_error=False,
    description="The polling station's (or the unit relay's) secret, issued by the "
    "commission with `viche event secret`.",
)
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
#: the largest relay batch body read (a unit's batch of large ballots is sent in several)
MAX_BATCH_BYTES = 64 << 20
_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


class StyleModel(BaseModel):
    id: str
    constituency: str
    election: str = Field(description="the style's election (GET /api/v1/elections/{uuid})")
    archive: str = Field(description="path of its .bel in the event folder")
    voters: int
    excluded_enrolled: int = Field(description="voters enrolled from excluded units (a count)")


class StationModel(BaseModel):
    id: str
    kind: str = Field(description="abroad or displaced")
    unit: str


class ChannelCounts(BaseModel):
    online: int
    station: int
    relay: int


class StyleTurnout(ChannelCounts):
    id: str


class TurnoutModel(BaseModel):
    styles: list[StyleTurnout]
    total: ChannelCounts


class EventSummary(BaseModel):
    id: str
    name: str
    closes: str = Field(description="closing time, ISO 8601 UTC")


class EventDetail(EventSummary):
    key: str = Field(description="the event key (Ed25519, Base64) that signs its documents")
    receipt_key: str
    excluded_units: list[str]
    stations: list[StationModel]
    styles: list[StyleModel]
    files: list[str] = Field(description="published files: GET /api/v1/events/{id}/{name}")
    turnout: TurnoutModel = Field(
        description="voters so far by the channel of their counted ballot (turnout only: "
        "results per channel are never published)"
    )


class ChannelCast(BaseModel):
    style: str
    channel: str
    tracker: str
    height: int
    event_hash: str
    revote: bool = Field(description="the voter's earlier ballot is replaced")
    receipt: SignedReceiptModel


class ErrorModel(BaseModel):
    code: str
    message: str
    where: dict[str, object]
    at: str


class BatchItem(BaseModel):
    tracker: str
    ballot_hash: str
    accepted: SignedReceiptModel | None = None
    refused: ErrorModel | None = None


class BatchAnswer(BaseModel):
    batch: str = Field(description="the batch id (start of the SHA-256 of its content)")
    relay: str
    accepted: int
    outcomes: list[BatchItem] = Field(description="one per ballot, in the batch's order")


def served(request: Request, event: str) -> ServedEvent:
    events: dict[str, ServedEvent] = request.app.state.events
    found = events.get(event) if _NAME.fullmatch(event) else None
    if found is None:
        raise NotFoundError("no such event on this server", where=Location(path=("event",)))
    return found


def _secret(token: HTTPAuthorizationCredentials | None) -> str:
    if token is None or not token.credentials or len(token.credentials) > 255:
        raise AuthenticationError("a Bearer secret is needed", where=Location(
            path=("authorization",)))  # fmt: skip
    return token.credentials


def _signed(r: SignedReceipt) -> SignedReceiptModel:
    return SignedReceiptModel(receipt=ReceiptBody(**r.receipt.to_json()), signature=r.signature)


def _detail(ev: ServedEvent) -> EventDetail:
    m = ev.manifest
    per_style = ev.turnout()
    return EventDetail(
        id=m.id,
        name=m.name,
        closes=m.closes,
        key=m.key,
        receipt_key=m.receipt_key,
        excluded_units=list(m.excluded_units),
        stations=[StationModel(**s.to_json()) for s in m.stations],
        styles=[StyleModel(**s.to_json()) for s in m.styles],
        files=ev.files(),
        turnout=TurnoutModel(
            styles=[StyleTurnout(id=sid, **c) for sid, c in per_style.items()],
            total=ChannelCounts(**total_turnout(per_style)),
        ),
    )


@router.get("", response_model=list[EventSummary], summary="The national events on this server")
def list_events(request: Request) -> list[EventSummary]:
    events: dict[str, ServedEvent] = request.app.state.events
    return [EventSummary(id=e.id, name=e.manifest.name, closes=e.manifest.closes)
            for e in events.values()]  # fmt: skip


@router.get(
    "/{event}",
    response_model=EventDetail,
    summary="One event: its setup, its files and its live per-channel turnout",
)
def get_event(request: Request, event: str) -> EventDetail:
    return _detail(served(request, event))


@router.get(
    "/{event}/styles/{style}/{name}",
    summary="A style's public record (.bel), at the path the event folder names it",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-tar": {}}}},
)
def get_style_archive(request: Request, event: str, style: str, name: str) -> StreamingResponse:
    ev = served(request, event)
    found = ev.style(style) if _NAME.fullmatch(style) else None
    if found is None or found.archive != f"styles/{style}/{name}":
        raise NotFoundError("no such archive in this event", where=Location(path=("name",)))
    return get_archive(request, found.election)


@router.get(
    "/{event}/{name}",
    summary="A published file of the event (event.json, station-locks.jsonl, "
    "relay-ballots.jsonl, …), byte for byte what `viche verify DIR` checks",
    response_class=Response,
)
def get_file(request: Request, event: str, name: str) -> Response:
    raw = served(request, event).published(name)
    media = "application/x-ndjson" if name.endswith(".jsonl") else "application/json"
    return Response(raw, media_type=media)


class VoterStyle(BaseModel):
    voter: str
    style: str = Field(description="the voter's ballot style")
    election: str = Field(description="its election: the kiosk booth loads it")


def _station_request(ev: ServedEvent, station: str, token: HTTPAuthorizationCredentials | None
                     ) -> None:  # fmt: skip
    secret = _secret(token)
    if not _NAME.fullmatch(station):
        raise NotFoundError("no such station", where=Location(path=("station",)))
    ev.desk.manifest.station(station)  # UnknownStationError
    ev.authenticate(STATION, station, secret)


def _voter_id(voter: str, where: Location) -> str:
    if not VOTER_ID_RE.fullmatch(voter):
        raise UsageError("a voter id is a letter or digit, then letters, digits or -",
                         where=where)  # fmt: skip
    return voter


@router.get(
    "/{event}/stations/{station}/voters/{voter}",
    response_model=VoterStyle,
    summary="A polling station looks up the ballot style of the voter in front of it",
    description="Station secret (Bearer). The kiosk booth then loads the voter's election; "
    "she enters her own credential, which never leaves the browser.",
)
def station_voter(request: Request, event: str, station: str, voter: str, token: Token
                  ) -> VoterStyle:  # fmt: skip
    ev = served(request, event)
    _station_request(ev, station, token)
    _voter_id(voter, Location(path=("voter",)))
    enrolled = ev.desk.roll.get(voter)
    if enrolled is None:
        raise EnrolmentError(f"voter {voter!r} is not on this event's roll",
                             where=Location(path=("voter",)))  # fmt: skip
    return VoterStyle(voter=voter, style=enrolled[0], election=ev.style(enrolled[0]).election)


_BALLOT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the voter's ballot, exactly as the kiosk booth generated it (signed "
        "with her own credential in the browser)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/{event}/stations/{station}/ballots",
    status_code=201,
    response_model=ChannelCast,
    summary="Cast at a polling station (the staff checked the voter's identity)",
    description=(
        "The station authenticates with its own secret (Bearer). The ballot must be of the "
        "voter's ballot style (V8051) and signed with her own credential (V3007); it is "
        "appended and her credential locked under the election's lock: no later ballot of "
        "hers is accepted on any channel (V8050). A station of an excluded unit does not "
        "exist (V8052)."
    ),
    openapi_extra=_BALLOT_BODY,
)
async def cast_at_station(
    request: Request,
    event: str,
    station: str,
    token: Token,
    voter: Annotated[
        str,
        Header(
            alias="Viche-Voter",
            description="the voter's id on the registry, as the staff checked it",
            max_length=40,
        ),
    ],
) -> ChannelCast:
    ev = served(request, event)
    await run_in_threadpool(_station_request, ev, station, token)
    _voter_id(voter, Location(path=("viche-voter",)))
    raw = await json_body(request, await run_in_threadpool(ev.max_ballot) + 2)
    if raw.endswith(b"\n"):
        raw = raw[:-1]

    def cast() -> Cast:
        return ev.cast_at_station(station, voter, raw)

    done = await run_in_threadpool(cast)
    a = done.accepted
    return ChannelCast(style=done.style, channel=done.channel, tracker=a.tracker,
                       height=a.height, event_hash=a.event_hash, revote=a.revote,
                       receipt=_signed(done.receipt))  # fmt: skip


@router.post(
    "/{event}/relays/{unit}/batches",
    status_code=201,
    response_model=BatchAnswer,
    summary="Upload a unit relay's batch: each ballot accepted or refused on its own",
    description=(
        "The relay authenticates with its unit's secret (Bearer). The body is the batch: "
        f"one ballot per line (at most {MAX_BATCH}), as the voters' booths made them; the "
        "relay can neither read nor alter one (a changed byte is refused, that ballot "
        "only). A ballot of a credential locked by a station vote is refused (V8050)."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_batch(request: Request, event: str, unit: str, token: Token) -> BatchAnswer:
    ev = served(request, event)
    secret = _secret(token)
    if not MILITARY_UNIT_RE.fullmatch(unit):
        raise NotFoundError("no such unit", where=Location(path=("unit",)))
    await run_in_threadpool(ev.authenticate, RELAY, unit, secret)
    per = await run_in_threadpool(ev.max_ballot)
    limit = min((per + 1) * MAX_BATCH, MAX_BATCH_BYTES)
    raw = await json_body(request, limit, media_type="text/plain")
    lines = [ln for ln in raw.split(b"\n") if ln]
    batch, outcomes = await run_in_threadpool(ev.upload_batch, unit, lines)
    items: list[BatchItem] = []
    for o in outcomes:
        item = BatchItem(tracker=o.tracker, ballot_hash=o.hash)
        if o.receipt is not None:
            item.accepted = _signed(o.receipt)
        if o.error is not None:
            item.refused = ErrorModel(**o.error.to_dict())
        items.append(item)
    accepted = sum(o.receipt is not None for o in outcomes)
    return BatchAnswer(batch=batch, relay=unit, accepted=accepted, outcomes=items)
