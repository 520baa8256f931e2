"""Observers' live streams share one look at the board (the audit of 2026-12-05): every
stream read the chain head from the database every half second, so 100 idle streams cost
the server about a sixth of a core, and a few thousand (no login, no limit) would take
it whole. The head is now read at most once per poll for all the streams of a worker."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from support.web import Served
from viche.record.sql import SqlElectionStore


def test_many_streams_read_the_head_once_per_poll(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = served
    app = s.client.app
    reads = 0
    head = SqlElectionStore.head

    def counted(store: SqlElectionStore) -> object:
        nonlocal reads
        reads += 1
        return head(store)

    monkeypatch.setattr(SqlElectionStore, "head", counted)

    async def streams(n: int) -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = f"/api/v1/elections/{s.uuid}/events"
            answers = await asyncio.gather(
                *(client.get(url, params={"until": 0}) for _ in range(n))
            )
        return [a.text for a in answers]

    texts = asyncio.run(streams(40))
    assert all("event: Setup" in t for t in texts)
    assert reads <= 2, reads  # 40 before
