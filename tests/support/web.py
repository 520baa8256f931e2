"""An election served by the API in a test: the client, the board, the voters' files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from viche.record.sql import SqlBoard, SqlElectionStore
from viche.service.credentials import read_private_credential
from viche.service.hosting import Host, open_election
from viche.service.served_demo import PreparedDemo
from viche.web.app import create_app
from viche.web.ops import OpsConfig


@dataclass(frozen=True)
class Served:
    client: TestClient
    host: Host
    store: SqlElectionStore
    prepared: PreparedDemo
    voters: Path

    @property
    def uuid(self) -> str:
        return self.prepared.election.uuid

    def login(self, n: int) -> tuple[str, str]:
        login, secret = (self.voters / f"{n:03d}.login").read_text().split()
        return login, secret

    def credential(self, n: int) -> str:
        return read_private_credential(self.voters / f"{n:03d}.cred")


@contextlib.contextmanager
def serve_prepared(
    board_url: str, keys: Path, demo: PreparedDemo, voters: Path
) -> Iterator[Served]:
    """The prepared demo election opened on the board at ``board_url`` and served in
    process, not throttled (tests/web/test_web_ops.py tests the limits)."""
    board = SqlBoard.open(board_url)
    try:
        store = open_election(
            board,
            keys,
            election=demo.election,
            trustees=demo.trustees,
            credentials=demo.credentials,
            ids=demo.ids,
            roll=demo.roll,
            timestamp=demo.timestamp,
        )
        host = Host(board, keys)
        app = create_app(host, OpsConfig.unlimited())
        with TestClient(app, raise_server_exceptions=True) as client:
            yield Served(client, host, store, demo, voters)
    finally:
        board.close()
