"""The one mapping from Viche errors to HTTP statuses, and the handlers that use it.

Every error answer has the body ``VicheError.to_dict()``:
``{"code", "message", "where": {…}, "at": "…"}``. Errors raised by FastAPI or Starlette
(a malformed request, an unknown route) are translated into Viche errors first, so that
clients see one shape of error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from viche.errors import (
    NOWHERE,
    AuditedBallotError,
    AuthenticationError,
    CredentialLockedError,
    CrossOriginError,
    CryptoError,
    DatabaseError,
    DeliveryError,
    EnrolmentError,
    EventError,
    ExcludedUnitError,
    FormatError,
    HeadMovedError,
    JsonFormatError,
    Location,
    MediaTypeError,
    NotFoundError,
    PhaseError,
    ProtocolError,
    RateLimitedError,
    RecordError,
    RelayBatchError,
    ReplayedBallotError,
    ServerBusyError,
    TooLargeError,
    UnknownElectionError,
    UnknownStationError,
    UsageError,
    VicheError,
    VoteClosedError,
    WrongStyleError,
)

#: Most specific class first; the first class the error is an instance of decides.
STATUS: tuple[tuple[type[VicheError], int], ...] = (
    (AuthenticationError, 401),
    (NotFoundError, 404),
    (UnknownStationError, 404),
    (CredentialLockedError, 409),
    (VoteClosedError, 409),
    (WrongStyleError, 422),
    (EnrolmentError, 422),
    (ExcludedUnitError, 422),
    (RelayBatchError, 400),
    (UnknownElectionError, 404),
    (RateLimitedError, 429),
    (CrossOriginError, 403),
    (TooLargeError, 413),
    (MediaTypeError, 415),
    (PhaseError, 409),
    (ReplayedBallotError, 409),
    (AuditedBallotError, 409),
    (HeadMovedError, 409),
    (DatabaseError, 503),
    (DeliveryError, 503),
    (ServerBusyError, 503),
    (FormatError, 400),
    (CryptoError, 422),
    (ProtocolError, 422),
    (UsageError, 400),
    (RecordError, 500),
    (EventError, 500),
)


def status_of(error: VicheError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(error: VicheError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = error.scheme
    if isinstance(error, ServerBusyError):
        headers["Retry-After"] = str(error.retry_after)
        # the client comes back in seconds: no idle connection is kept for it (one the
        # server closes for idleness just as the client reuses it would lose the answer)
        headers["Connection"] = "close"
    return JSONResponse(error.to_dict(), status_code=status_of(error), headers=headers)


def handled_response(exc: VicheError | RequestValidationError | ValidationError) -> JSONResponse:
    """The answer to an error raised by a route: a Viche error's, or a request or body that
    does not fit its model (FastAPI's check, or pydantic's in a handler) as a
    :class:`~viche.errors.JsonFormatError`. The app's handlers (:func:`install`) and the
    cast's own dispatch (:class:`~viche.web.routers.ballots.CastRoute`) answer with it."""
    if isinstance(exc, VicheError):
        return error_response(exc)
    return error_response(invalid(exc.errors()))


async def _viche(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VicheError)
    return handled_response(exc)


def invalid(errors: Sequence[Any], where: Location = NOWHERE) -> JsonFormatError:
    """The first of pydantic's ``errors`` (a request or a body that does not fit its
    model) as a Viche error, located under ``where``."""
    first = errors[0] if errors else {}
    loc = tuple(str(p) for p in first.get("loc", ()))
    return JsonFormatError(str(first.get("msg", "invalid request")), where=where.sub(*loc))


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    """A request (FastAPI's check) or a body a handler validated itself (pydantic's) that
    does not fit its model."""
    assert isinstance(exc, RequestValidationError | ValidationError)
    return handled_response(exc)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    where = Location(path=(request.url.path,))
    error: VicheError
    if exc.status_code == 404:
        error = NotFoundError("no such resource", where=where)
    elif exc.status_code == 401:
        error = AuthenticationError("credentials are required", where=where)
    elif exc.status_code == 405 and getattr(request.app.state, "read_only", False):
        error = UsageError(
            f"{request.method}: this server is an observer's read-only mirror of the public "
            "record; it takes no ballot and no administration (use the election's own server)",
            where=where,
        )
    elif exc.status_code == 405:
        error = UsageError(f"{request.method} is not allowed on this address", where=where)
    else:
        error = UsageError(str(exc.detail), where=where)
    response = error_response(error)
    response.status_code = exc.status_code
    if exc.status_code == 405:  # RFC 9110: a 405 names the methods the address takes
        response.headers["Allow"] = (exc.headers or {}).get("Allow", "GET, HEAD")
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(VicheError, _viche)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
