"""A demo election prepared once per module (every role's files, voters' credentials and
login secrets), opened on a fresh board for each test (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_served import Served

from viche.crypto.rng import SeededRandom
from viche.record.sql import SqlBoard
from viche.service.hosting import Host, open_election
from viche.service.served_demo import PreparedDemo, prepare_demo
from viche.web.app import create_app
from viche.web.ops import OpsConfig


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedDemo, Path]:
    directory = tmp_path_factory.mktemp("demo") / "files"
    return prepare_demo(directory, SeededRandom("web-tests"), 4), directory / "voters"


@pytest.fixture()
def served(board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path]) -> Iterator[Served]:
    demo, voters = prepared
    board = SqlBoard.open(board_url)
    store = open_election(
        board,
        tmp_path / "keys",
        election=demo.election,
        trustees=demo.trustees,
        credentials=demo.credentials,
        ids=demo.ids,
        roll=demo.roll,
        timestamp=demo.timestamp,
    )
    host = Host(board, tmp_path / "keys")
    # functional tests are not throttled; tests/web/test_web_ops.py tests the limits
    with TestClient(
        create_app(host, OpsConfig.unlimited()), raise_server_exceptions=True
    ) as client:
        yield Served(client, host, store, demo, voters)
    board.close()
