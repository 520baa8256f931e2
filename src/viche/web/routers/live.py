"""The live record: a server-sent event for every new event of an election's chain.

``GET /api/v1/elections/{uuid}/events`` streams ``id: <height>``, ``event: <type>``,
``data: {"height":…,"hash":…,"type":…}`` from the height after ``Last-Event-ID`` (or
``?after=``), so that a reconnecting observer misses nothing; the data members are fetched
under their hashes (or the whole archive). The board is polled (any worker process may have
appended), every ``POLL`` seconds, once for all the streams of a worker
(:class:`SharedHeads`: each stream used to read it itself, and a few thousand idle
observers took the server's CPU). ``?until=H`` ends the stream once event H is sent.

Streams are capped in each worker (:class:`StreamSlots`, ``viche serve
--streams-per-address`` and ``--max-streams``): beyond the cap of its client address a new
stream is refused with 429 (V9013), beyond the worker's with 503 (V9016) and
``Retry-After``; a stream's place is given back when it ends or its client goes.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from viche.errors import Location, RateLimitedError, ServerBusyError, UsageError
from viche.record.sql import SqlElectionStore
from viche.web.deps import election_store
from viche.web.errors import error_response
from viche.web.models import ERRORS
from viche.web.ops import client_address

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


class StreamSlots:
    """The live streams open in one worker: at most ``per_address`` from one client
    address and ``total`` in all (None: no cap). Used from the worker's event loop only."""

    #: what a refused client is told to wait, in milliseconds (503)
    RETRY_MS = 5000

    def __init__(self, per_address: int | None, total: int | None) -> None:
        self.per_address = per_address
        self.total = total
        self.open: dict[str, int] = {}
        self.count = 0

    def take(self, address: str) -> str | None:
        """Take a place for a stream from ``address``; None when taken, else the limit
        reached (``"address"`` or ``"server"``)."""
        mine = self.open.get(address, 0)
        if self.per_address is not None and mine >= self.per_address:
            return "address"
        if self.total is not None and self.count >= self.total:
            return "server"
        self.open[address] = mine + 1
        self.count += 1
        return None

    def give_back(self, address: str) -> None:
        left = self.open.get(address, 0) - 1
        if left > 0:
            self.open[address] = left
        else:
            self.open.pop(address, None)
        self.count -= 1

    def refusal(self, limit: str) -> Response:
        """The answer to a stream refused at ``limit``."""
        if limit == "address":
            response = error_response(
                RateLimitedError(
                    f"too many live streams from this address (at most {self.per_address} "
                    "at once): close one first",
                    where=Location(path=("events",)),
                )
            )
            response.headers["Retry-After"] = str(self.RETRY_MS // 1000)
            return response
        return error_response(
            ServerBusyError(
                f"this server follows as many live streams as it can ({self.total}): try "
                "again later, or download the archive",
                where=Location(path=("events",)),
                retry_after_ms=self.RETRY_MS,
            )
        )


class _HeldStream(StreamingResponse):
    """A stream that gives its place back however it ends: the generator finished, the
    client gone, or the response cancelled before its first byte."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


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
) -> Response:
    store = await run_in_threadpool(election_store, request, uuid)
    start = -1 if after is None else after
    if last_event_id is not None:
        if not last_event_id.isdigit() or len(last_event_id) > 12:
            raise UsageError(
                "Last-Event-ID is an event height", where=Location(path=("Last-Event-ID",))
            )
        start = int(last_event_id)

    heads = _heads()
    slots: StreamSlots = request.app.state.streams
    address = client_address(request)
    refused = slots.take(address)
    if refused is not None:
        request.app.state.metrics.count(f"stream_refused_{refused}")
        return slots.refusal(refused)

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

    return _HeldStream(stream(), lambda: slots.give_back(address))
