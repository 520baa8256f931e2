"""A mirror serves its checked copy read-only with the server's own public endpoints, and a
second mirror follows the first: every copy has the origin's exact bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support.web import Served
from viche.errors import ChainError
from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.service.mirror import (
    Fetch,
    MirrorStatus,
    current_copy,
    served_board_url,
    sync_board,
    update_mirror,
)
from viche.web.app import create_app
from viche.web.ops import OpsConfig


def _from(client: TestClient, uuid: str) -> Fetch:
    def fetch(dest: Path) -> None:
        r = client.get(f"/api/v1/elections/{uuid}/archive.bel")
        assert r.status_code == 200
        dest.write_bytes(r.content)

    return fetch


class Mirror:
    """A mirror folder, its served board and its read-only app."""

    def __init__(self, directory: Path, key: str) -> None:
        directory.mkdir()
        self.directory = directory
        self.key = key
        self.board = SqlBoard.open(served_board_url(directory))
        app = create_app(
            Host(self.board, directory / "keys"), OpsConfig.unlimited(), read_only=True
        )
        self.client = TestClient(app)

    def update(self, fetch: Fetch) -> MirrorStatus:
        update = update_mirror(self.directory, fetch)
        copy = current_copy(self.directory)
        assert copy is not None
        sync_board(self.board, copy, self.key)
        return update.status

    def copy(self) -> bytes:
        found = current_copy(self.directory)
        assert found is not None
        return found.read_bytes()


@pytest.fixture()
def mirrors(served: Served, tmp_path: Path) -> Iterator[tuple[Mirror, Mirror]]:
    key = served.client.get(f"/api/v1/elections/{served.uuid}").json()["receipt_key"]
    first, second = Mirror(tmp_path / "m1", key), Mirror(tmp_path / "m2", key)
    yield first, second
    first.board.close()
    second.board.close()


def _cast(s: Served, n: int, seed: str = "mirror") -> None:
    s.cast(n, seed)


def _origin(s: Served) -> bytes:
    return s.client.get(f"/api/v1/elections/{s.uuid}/archive.bel").content


def test_a_mirror_serves_a_copy_that_a_second_mirror_follows(
    served: Served, mirrors: tuple[Mirror, Mirror]
) -> None:
    s = served
    first, second = mirrors
    _cast(s, 1)
    assert first.update(_from(s.client, s.uuid)) is MirrorStatus.NEW
    assert second.update(_from(first.client, s.uuid)) is MirrorStatus.NEW
    assert first.copy() == second.copy() == _origin(s)
    # the election grows at the origin; the first mirror takes it, the second follows
    _cast(s, 2)
    _cast(s, 1, "again")  # a re-vote
    assert first.update(_from(s.client, s.uuid)) is MirrorStatus.EXTENDED
    assert second.update(_from(first.client, s.uuid)) is MirrorStatus.EXTENDED
    assert second.update(_from(first.client, s.uuid)) is MirrorStatus.UNCHANGED
    assert first.copy() == second.copy() == _origin(s)
    # the same public endpoints, the same answers
    base = f"/api/v1/elections/{s.uuid}"
    for path in ("/api/v1/elections", base, f"{base}/ballots", f"{base}/ballots?limit=1"):
        assert first.client.get(path).json() == s.client.get(path).json(), path
        assert second.client.get(path).json() == s.client.get(path).json(), path
    ballot = s.client.get(f"{base}/ballots").json()["ballots"][0]
    for digest in (ballot["hash"], ballot["event_hash"]):
        got = second.client.get(f"{base}/objects/{digest}")
        assert (
            got.status_code == 200
            and got.content == s.client.get(f"{base}/objects/{digest}").content
        )
    events = second.client.get(f"{base}/events", params={"until": 3}).text
    assert events.count("event: Ballot") == 3
    # read-only: no casting, no administration
    login, secret = s.login(3)
    refused = second.client.post(
        f"{base}/ballots", content=b"{}", headers={"Content-Type": "application/json"},
        auth=(login, secret),
    )  # fmt: skip
    assert refused.status_code == 405 and refused.json()["code"].startswith("V")
    # said as such (a voter sent here by mistake learns where she is), with Allow (RFC 9110)
    assert "read-only mirror" in refused.json()["message"], refused.text
    assert refused.headers["allow"].startswith("GET")
    closing = second.client.post(f"{base}/close")
    assert closing.status_code == 405 and "read-only mirror" in closing.json()["message"]
    wrong = s.client.delete(base)  # the origin: a method no route takes, also with Allow
    assert wrong.status_code == 405 and wrong.headers["allow"].startswith("GET")
    assert "DELETE" in wrong.json()["message"] and "mirror" not in wrong.json()["message"]
    assert (
        "/api/v1/elections/{uuid}/close"
        not in second.client.get("/api/v1/openapi.json").json()["paths"]
    )


def test_a_copy_the_board_cannot_reproduce_is_not_served(
    served: Served, mirrors: tuple[Mirror, Mirror]
) -> None:
    s = served
    first, _ = mirrors
    assert first.update(_from(s.client, s.uuid)) is MirrorStatus.NEW
    before = first.client.get(f"/api/v1/elections/{s.uuid}/archive.bel").content
    # another Setup under the same uuid: the board refuses it and serves what it had
    fresh = SqlBoard.open(f"sqlite:///{first.directory / 'forged.sqlite'}")
    try:
        p = s.prepared
        store = fresh.create_election(
            p.timestamp, p.election.raw, b'{"forged":1}', p.credentials.raw,
            uuid=s.uuid, receipt_key=first.key,
        )  # fmt: skip
        forged = first.directory.parent / "forged.bel"
        with forged.open("wb") as out:
            store.write_archive(out)
    finally:
        fresh.close()
    with pytest.raises(ChainError):
        sync_board(first.board, forged, first.key)
    assert first.client.get(f"/api/v1/elections/{s.uuid}/archive.bel").content == before
