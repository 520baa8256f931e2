"""The Pedersen key ceremony of a draft election, step by step (:mod:`viche.service.ceremony`).

Each trustee runs ``viche setup threshold stepN`` on its own machine and uploads what it
prints, authenticated with its own secret; the server checks each message, then publishes
what the trustees need for the next step (``certs.jsons``, each trustee's vinput).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from viche.service import admin, ceremony
from viche.service.ceremony import CeremonyState
from viche.web.deps import host, json_body
from viche.web.models import ERRORS
from viche.web.routers.admin import Token, role_secret

router = APIRouter(prefix="/api/v1/elections", tags=["key ceremony"], responses=ERRORS)
MAX_MESSAGE = 4 << 20
_JSONS: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}}}


class CeremonyModel(BaseModel):
    threshold: int = Field(description="trustees needed to decrypt")
    trustees: int
    step: int = Field(
        description="1: certificates, 3: polynomials, 5: voutputs are being uploaded; "
        "7: the ceremony is over (the election can be opened)"
    )
    certs: list[int] = Field(description="trustees whose certificate is in")
    polynomials: list[int] = Field(description="trustees whose polynomial is in")
    voutputs: list[int] = Field(description="trustees whose voutput is in")


def _model(s: CeremonyState) -> CeremonyModel:
    return CeremonyModel(
        threshold=s.threshold,
        trustees=s.trustees,
        step=s.step,
        certs=list(s.certs),
        polynomials=list(s.polynomials),
        voutputs=list(s.voutputs),
    )


def _message_body(summary: str) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "description": summary,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }


@router.get("/{uuid}/ceremony", response_model=CeremonyModel, summary="The key ceremony's state")
def get_ceremony(request: Request, uuid: str) -> CeremonyModel:
    return _model(ceremony.state(host(request).board, uuid))


@router.get(
    "/{uuid}/ceremony/certs.jsons",
    summary="Every trustee's certificate (certs.jsons, for steps 3 and 5), once all are in",
    responses=_JSONS,
)
def get_certs(request: Request, uuid: str) -> Response:
    return Response(ceremony.certs_jsons(host(request).board, uuid), media_type="text/plain")


@router.get(
    "/{uuid}/ceremony/trustees/{n}/vinput",
    summary="Trustee N's vinput (for step 5), once every polynomial is in",
    responses=_JSONS,
)
def get_vinput(request: Request, uuid: str, n: int, token: Token) -> Response:
    h = host(request)
    admin.authorize(h.board, uuid, admin.trustee_role(n), role_secret(token))
    return Response(ceremony.vinput(h.board, uuid, n), media_type="text/plain")


@router.get(
    "/{uuid}/ceremony/threshold.json",
    summary="The threshold parameters (step 6), once the ceremony is over",
    responses=_JSONS,
)
def get_threshold(request: Request, uuid: str) -> Response:
    return Response(ceremony.threshold_json(host(request).board, uuid), media_type="text/plain")


async def _upload(request: Request, uuid: str, n: int, token: Token) -> bytes:
    h = host(request)
    await run_in_threadpool(
        admin.authorize, h.board, uuid, admin.trustee_role(n), role_secret(token)
    )
    return await json_body(request, MAX_MESSAGE)


@router.put(
    "/{uuid}/ceremony/trustees/{n}/cert",
    response_model=CeremonyModel,
    summary="Step 1: trustee N's certificate (NAME.cert of viche setup threshold step1)",
    openapi_extra=_message_body("the certificate"),
)
async def put_cert(request: Request, uuid: str, n: int, token: Token) -> CeremonyModel:
    raw = await _upload(request, uuid, n, token)
    board = host(request).board
    return _model(await run_in_threadpool(ceremony.upload_cert, board, uuid, n, raw))


@router.put(
    "/{uuid}/ceremony/trustees/{n}/polynomial",
    response_model=CeremonyModel,
    summary="Step 3: trustee N's polynomial (the line of viche setup threshold step3)",
    openapi_extra=_message_body("the polynomial"),
)
async def put_polynomial(request: Request, uuid: str, n: int, token: Token) -> CeremonyModel:
    raw = await _upload(request, uuid, n, token)
    board = host(request).board
    return _model(await run_in_threadpool(ceremony.upload_polynomial, board, uuid, n, raw))


@router.put(
    "/{uuid}/ceremony/trustees/{n}/voutput",
    response_model=CeremonyModel,
    summary="Step 5: trustee N's voutput (the line of viche setup threshold step5)",
    openapi_extra=_message_body("the voutput"),
)
async def put_voutput(request: Request, uuid: str, n: int, token: Token) -> CeremonyModel:
    raw = await _upload(request, uuid, n, token)
    board = host(request).board
    return _model(await run_in_threadpool(ceremony.upload_voutput, board, uuid, n, raw))
