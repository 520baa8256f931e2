"""Shared pieces of the routers: the host, the election store, request bodies."""

from __future__ import annotations

import re

from fastapi import Request

from viche.errors import Location, MediaTypeError, NotFoundError, TooLargeError
from viche.record.sql import SqlElectionStore
from viche.service.hosting import Host

HEX64 = re.compile(r"[0-9a-f]{64}")
UUID = re.compile(r"[1-9A-HJ-NP-Za-km-z]{14,64}")


def host(request: Request) -> Host:
    found = request.app.state.host
    assert isinstance(found, Host)
    return found


def valid_uuid(uuid: str) -> str:
    """An election uuid from a path, well-formed (404 otherwise)."""
    if not UUID.fullmatch(uuid):
        raise NotFoundError("no such election", where=Location(path=("uuid",)))
    return uuid


def election_store(request: Request, uuid: str) -> SqlElectionStore:
    """The election named in the path (404 for a malformed or unknown uuid)."""
    return host(request).store(valid_uuid(uuid))


async def json_body(request: Request, limit: int, media_type: str = "application/json") -> bytes:
    """The raw body of a JSON request (of type ``media_type``), at most ``limit`` bytes
    (read no further)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != media_type:
        raise MediaTypeError(
            f"expected Content-Type {media_type}, got {ctype or 'none'!r}",
            where=Location(path=("content-type",)),
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError(f"a body of at most {limit} bytes", where=Location(path=("body",)))
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise TooLargeError(f"a body of at most {limit} bytes", where=Location(path=("body",)))
    return bytes(chunks)
