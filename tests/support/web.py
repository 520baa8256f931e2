"""An election served by the API in a test: the client, the board, the voters' files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from viche.record.sql import SqlElectionStore
from viche.service.credentials import read_private_credential
from viche.service.hosting import Host
from viche.service.served_demo import PreparedDemo


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
