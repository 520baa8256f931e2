"""The public record, live: every new event pushed as a server-sent event.

``GET /api/v1/elections/{uuid}/events`` streams the events after ``after`` (a height; the
``Last-Event-ID`` header of a reconnecting browser wins over it), in chain order, then
waits for new ones. Each message is ``id: <height>``, ``event: <type>`` and ``data:`` a
JSON object ``{"height", "hash", "type", "raw"}`` where ``raw`` is the event's exact JSON
text (its SHA-256 is ``hash``; the data members it names are under ``objects/{hash}``).
The stream ends with ``event: end`` once the Result is published, or at once with
``follow=false``. The board is polled, so the stream follows appends made by any worker
process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from viche.record.events import EventType
from viche.record.sql.board import EventRow, SqlElectionStore
from viche.web.deps import election_store
from viche.web.models import ERRORS

router = APIRouter(prefix="/api/v1/elections", tags=["live"], responses=ERRORS)

#: How often the board is asked for new events, and how often an idle stream says so.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
BATCH = 200


def sse_message(row: EventRow) -> str:
    data = {"height": row.height, "hash": row.hash, "type": row.type.value}
    data["raw"] = row.raw.decode("utf-8")
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"id: {row.height}\nevent: {row.type.value}\ndata: {body}\n\n"


def _rows(store: SqlElectionStore, first: int, last: int) -> list[EventRow]:
    return list(store.event_rows(first, last))


@router.get(
    "/{uuid}/events",
    summary="Live event stream (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(
    request: Request,
    uuid: str,
    after: Annotated[int, Query(ge=-1, description="send the events above this height")] = -1,
    follow: Annotated[bool, Query(description="wait for new events")] = True,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    store = await run_in_threadpool(election_store, request, uuid)
    if last_event_id is not None and last_event_id.isdigit():
        after = int(last_event_id)

    async def stream() -> AsyncIterator[str]:
        next_height = after + 1
        idle_since = time.monotonic()
        while True:
            head = await run_in_threadpool(store.head)
            if head.height >= next_height:
                last = min(head.height, next_height + BATCH - 1)
                rows = await run_in_threadpool(_rows, store, next_height, last)
                for row in rows:
                    yield sse_message(row)
                next_height = last + 1
                idle_since = time.monotonic()
                continue
            if head.type is EventType.RESULT:
                yield "event: end\ndata: {}\n\n"
                return
            if not follow or await request.is_disconnected():
                return
            if time.monotonic() - idle_since > KEEPALIVE_SECONDS:
                yield ": idle\n\n"
                idle_since = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
