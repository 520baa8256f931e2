"""The public record: elections, their archive at any moment, every object under its hash."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from viche.crypto.hashing import sha256_hex
from viche.errors import Location, NotFoundError, PhaseError
from viche.protocol.ballot import tracker_of_hash
from viche.record.events import EventType
from viche.record.sql import SqlElectionStore
from viche.service import schedule
from viche.service.hosting import Host
from viche.web.deps import HEX64, election_store, host
from viche.web.models import (
    ERRORS,
    BallotPage,
    ElectionDetail,
    ElectionSummary,
    Head,
    ResultAnswer,
    ScheduleModel,
    SetupHashes,
    TrackedBallot,
    result_rows,
)

router = APIRouter(prefix="/api/v1/elections", tags=["elections"], responses=ERRORS)

_OPEN = {EventType.SETUP, EventType.BALLOT}
#: ballots per page of the ballot box (one page for most elections)
MAX_PAGE = 10_000


def _phase(head_type: EventType) -> str:
    if head_type in _OPEN:
        return "open"
    return "tallied" if head_type is EventType.RESULT else "closed"


def _summary(h: Host, store: SqlElectionStore) -> ElectionSummary:
    election = h.record(store.uuid).election
    return ElectionSummary(
        uuid=store.uuid,
        name=election.name,
        phase=_phase(store.head().type),
        ballots=store.ballot_count(),
    )


def phases(h: Host) -> list[tuple[str, str]]:
    """(uuid, phase) of every election on the board, for the metrics."""
    return [(uuid, _phase(h.store(uuid).head().type)) for uuid in h.board.elections()]


@router.get("", response_model=list[ElectionSummary], summary="Every election on this server")
def list_elections(request: Request) -> list[ElectionSummary]:
    h = host(request)
    return [_summary(h, h.store(uuid)) for uuid in h.board.elections()]


@router.get("/{uuid}", response_model=ElectionDetail, summary="One election")
def get_election(request: Request, uuid: str) -> ElectionDetail:
    h = host(request)
    store = election_store(request, uuid)
    rec = h.record(store.uuid)
    setup = store.setup()
    head = store.head()
    return ElectionDetail(
        uuid=store.uuid,
        name=rec.election.name,
        description=rec.election.description,
        phase=_phase(head.type),
        ballots=store.ballot_count(),
        fingerprint=rec.election.fingerprint,
        timestamp=store.timestamp,
        head=Head(height=head.height, hash=head.hash, type=head.type.value),
        setup=SetupHashes(
            election=sha256_hex(setup.election),
            trustees=sha256_hex(setup.trustees),
            credentials=sha256_hex(setup.credentials),
        ),
        receipt_key=h.board.receipt_key(store.uuid),
        archive=f"/api/v1/elections/{store.uuid}/archive.bel",
        schedule=ScheduleModel(**vars(schedule.times(h, store.uuid))),
    )


@router.get(
    "/{uuid}/archive.bel",
    summary="The public record as a .bel archive (belenios-tool reads it), at this moment",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-tar": {}}}},
)
def get_archive(request: Request, uuid: str) -> StreamingResponse:
    store = election_store(request, uuid)
    spool = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - closed by the iterator
    try:
        store.write_archive(cast(BinaryIO, spool))
    except BaseException:
        spool.close()
        raise
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(1 << 16):
                yield block

    return StreamingResponse(
        chunks(),
        media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{store.uuid}.bel"'},
    )


@router.get(
    "/{uuid}/objects/{digest}",
    summary="A public object (data member or event) by its SHA-256",
    responses={200: {"content": {"application/json": {}}}},
)
def get_object(request: Request, uuid: str, digest: str) -> Response:
    store = election_store(request, uuid)
    found = store.data_member(digest) if HEX64.fullmatch(digest) else None
    if found is None:
        raise NotFoundError("no public object with this hash", where=Location(path=(digest,)))
    return Response(
        found,
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.get(
    "/{uuid}/ballots",
    response_model=BallotPage,
    summary="The ballot box: every Ballot event's tracker, a page at a time",
)
def list_ballots(
    request: Request,
    uuid: str,
    after: Annotated[int, Query(ge=-1, le=2**31, description="last height already seen")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="ballots per page")] = MAX_PAGE,
) -> BallotPage:
    store = election_store(request, uuid)
    found = store.ballots(after, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return BallotPage(
        ballots=[
            TrackedBallot(
                height=b.height,
                tracker=tracker_of_hash(b.hash),
                hash=b.hash,
                event_hash=b.event_hash,
            )
            for b in found
        ],
        next=found[-1].height if more else None,
    )


Parameter = Annotated[int | None, Query(ge=1, le=1000)]


@router.get(
    "/{uuid}/result",
    response_model=ResultAnswer,
    summary="The published result, with the outcomes of the ranked and graded questions",
)
def get_result(
    request: Request,
    uuid: str,
    outcomes: Annotated[
        str, Query(max_length=64, description="counting methods: schulze, stv, mj")
    ] = "schulze,stv,mj",
    seats: Annotated[Parameter, Query(description="STV seats (default 1)")] = None,
    grades: Annotated[
        Parameter, Query(description="majority-judgment grades (default: the highest given)")
    ] = None,
) -> ResultAnswer:
    from viche.protocol.tally import Result
    from viche.service import outcomes as counting
    from viche.service.tally import label

    methods = counting.parse_methods(outcomes, Location(path=("outcomes",)))
    store = election_store(request, uuid)
    head = store.head()
    if head.type is not EventType.RESULT:
        raise PhaseError("the result is not published yet", where=Location(event=head.height))
    _, lines = store.event_lines(head.height)
    result = Result.from_bytes(lines[0], Location(event=head.height, path=("result",)))
    rows = label(host(request).record(store.uuid).election, result)
    params = counting.CountingParameters({}, {}, seats, grades)
    return ResultAnswer(
        event=head.height,
        questions=result_rows(rows),
        outcomes=counting.outcomes(rows, params, methods),
    )
