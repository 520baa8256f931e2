"""A ``viche serve`` worker moves the objects of its start out of the cyclic garbage
collector's reach once started (``create_app(freeze_heap=True)``): its full collections,
which run in the middle of requests, then traverse only what came after (88 ms -> 8 ms per
full collection in a burst, bench/serve_ingest/README.md, section wcpu7). An app made
without it (tests, benches: many apps in one process) freezes nothing."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.ops import OpsConfig


def _tracked(obj: object) -> bool:
    """``obj`` is among the objects the collector traverses (not frozen)."""
    return any(o is obj for o in gc.get_objects())


def test_a_serve_worker_freezes_the_objects_of_its_start(board_url: str, tmp_path: Path) -> None:
    board = SqlBoard.open(board_url)
    before = gc.get_freeze_count()
    try:
        host = Host(board, tmp_path / "keys")
        plain = create_app(host, OpsConfig.unlimited())
        with TestClient(plain) as client:
            assert client.get("/api/v1/health").status_code == 200
            assert gc.get_freeze_count() == before and _tracked(plain)
        worker = create_app(host, OpsConfig.unlimited(), freeze_heap=True)
        assert _tracked(worker)
        with TestClient(worker) as client:
            assert gc.get_freeze_count() > before and not _tracked(worker)
            assert client.get("/api/v1/health").status_code == 200
            # what requests create afterwards is collected as before
            made: list[object] = []
            made.append(made)  # a cycle
            assert _tracked(made)
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        board.close()
