"""The live record: a server-sent event for every new event of an election's chain.

``GET /api/v1/elections/{uuid}/events`` streams ``id: <height>``, ``event: <type>``,
``data: {"height":…,"hash":…,"type":…}`` from the height after ``Last-Event-ID`` (or
``?after=``), so that a reconnecting observer misses nothing; the data members are fetched
under their hashes (or the whole archive). The board is polled (any worker process may have
appended), every ``POLL`` seconds, once for all the streams of a worker
(:class:`SharedHeads`: each stream used to read it itself, and a few thousand idle
observers took the server's CPU). ``?until=H`` ends the stream once event H is sent.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from viche.errors import Location, UsageError
from viche.record.sql import SqlElectionStore
from viche.web.deps import election_store
from viche.web.models import ERRORS

router = APIRouter(prefix="/api/v1/elections", tags=["elections"], responses=ERRORS)

POLL = 0.5
BATCH = 500


class SharedHeads:
    """The height of each election's chain head, read from the board at most once per
    ``POLL`` for every stream of one event loop (the others wait for that read)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, int]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def height(self, store: SqlElectionStore) -> int:
        lock = self._locks.setdefault(store.uuid, asyncio.Lock())
        async with lock:
            known = self._known.get(store.uuid)
            now = time.monotonic()
            if known is None or now - known[0] >= POLL:
                known = (now, (await run_in_threadpool(store.head)).height)
                self._known[store.uuid] = known
            return known[1]


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedHeads] = (
    weakref.WeakKeyDictionary()
)


def _heads() -> SharedHeads:
    """This event loop's :class:`SharedHeads` (a test may run the app in several loops)."""
    loop = asyncio.get_running_loop()
    found = _shared.get(loop)
    if found is None:
        found = _shared[loop] = SharedHeads()
    return found


@router.get(
    "/{uuid}/events",
    summary="Server-sent events: every event of the chain, live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    uuid: str,
    after: Annotated[int | None, Query(ge=-1, description="last height already seen")] = None,
    until: Annotated[int | None, Query(ge=0, description="stop after this height")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    store = await run_in_threadpool(election_store, request, uuid)
    start = -1 if after is None else after
    if last_event_id is not None:
        if not last_event_id.isdigit() or len(last_event_id) > 12:
            raise UsageError(
                "Last-Event-ID is an event height", where=Location(path=("Last-Event-ID",))
            )
        start = int(last_event_id)

    heads = _heads()

    async def stream() -> AsyncIterator[bytes]:
        seen = start
        yield b"retry: 2000\n\n"
        while until is None or seen < until:
            if await request.is_disconnected():
                return
            head = await heads.height(store)
            if head > seen:
                last = head if until is None else min(head, until)
                rows = await run_in_threadpool(store.chain, seen + 1, min(last, seen + BATCH))
                if not rows:
                    await asyncio.sleep(POLL)
                for height, digest, etype in rows:
                    data = json.dumps({"height": height, "hash": digest, "type": etype.value})
                    yield f"id: {height}\nevent: {etype.value}\ndata: {data}\n\n".encode()
                    seen = height
                continue
            await asyncio.sleep(POLL)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
