"""Before the opening: an election still being set up (a draft) is "not open yet" (409,
V3009) on every public address, with its scheduled opening time when there is one and
nothing of its contents; an unknown election stays 404; the administrator's own API is
unchanged; a ballot cast before the opening is refused with the same error (and counted)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi.testclient import TestClient

from support.web import Drafted, bearer, iso_utc, ready_draft
from viche.crypto.rng import SeededRandom
from viche.errors import NotOpenYetError
from viche.service import schedule
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.ops import OpsConfig

#: every public address of one election (the voter's and observer's API)
PUBLIC = (
    "",
    "/archive.bel",
    "/objects/" + "0" * 64,
    "/ballots",
    "/result",
    "/events",
)


@pytest.fixture()
def client(host: Host) -> Iterator[TestClient]:
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=600)) as c:
        yield c


def _draft(c: TestClient, tmp_path: Path) -> Drafted:
    server = (tmp_path / "admin.secret").read_text().strip()
    return ready_draft(c, server, ["ann", "ben"], SeededRandom("not-open"), tmp_path)


def _not_open(c: TestClient, d: Drafted, opens: str | None) -> None:
    for path in PUBLIC:
        r = c.get(f"{d.base}{path}")
        assert r.status_code == 409, (path, r.text)
        body = r.json()
        assert body["code"] == "V3009", (path, body)
        assert body["opens"] == opens, (path, body)
        assert body["where"] == {"member": d.uuid}, (path, body)
        # nothing of the draft's contents: no question, no name
        assert "chair" not in r.text and "demo" not in r.text.lower(), (path, r.text)


def test_a_draft_is_not_open_yet_and_says_when_it_opens(
    client: TestClient, host: Host, tmp_path: Path
) -> None:
    d = _draft(client, tmp_path)
    _not_open(client, d, None)
    assert "not open yet" in client.get(d.base).json()["message"]
    opening = math.ceil(time.time()) + 3600
    r = client.put(
        f"{d.base}/schedule", json={"open": iso_utc(opening)}, headers=bearer(d.administrator)
    )
    assert r.status_code == 200, r.text
    _not_open(client, d, iso_utc(opening))
    assert client.get(d.base).json()["message"] == f"this election opens at {iso_utc(opening)}"
    # the list of elections shows no draft
    assert client.get("/api/v1/elections").json() == []
    # an unknown election is still 404 (V9011 for a malformed uuid, V4012 for an unknown one)
    for missing in ("nope", "1" * 22):
        r = client.get(f"/api/v1/elections/{missing}")
        assert r.status_code == 404 and r.json()["code"] in {"V9011", "V4012"}, r.text
    # the administrator's own API: unchanged
    assert client.get(f"{d.base}/draft").json()["trustees"] == 1
    assert client.get(f"{d.base}/schedule").json()["open"] == iso_utc(opening)
    # a ballot before the opening: refused as not open yet, counted by its code
    r = client.post(
        f"{d.base}/ballots",
        content=b"{}",
        headers={"Content-Type": "application/json"},
        auth=("ann", d.logins["ann"]),
    )
    assert r.status_code == 409 and r.json()["code"] == "V3009", r.text
    assert 'viche_ballots_refused_total{code="V3009"} 1' in client.get("/metrics").text
    # opened: the public record is served
    assert client.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
    r = client.get(d.base)
    assert r.status_code == 200 and r.json()["phase"] == "open", r.text


def test_a_past_opening_time_is_said_as_such(host: Host, tmp_path: Path) -> None:
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=600)) as c:
        d = _draft(c, tmp_path)
    past = int(time.time()) - 120
    from viche.record.sql.schedules import put_schedule

    put_schedule(host.board, d.uuid, past, None)
    found = schedule.not_open_yet(host.board, d.uuid, time.time())
    assert isinstance(found, NotOpenYetError)
    assert found.opens == iso_utc(past)
    assert found.message == f"this election was to open at {iso_utc(past)}; it is not open yet"
    with pytest.raises(NotOpenYetError):
        host.store(d.uuid)
    assert schedule.not_open_yet(host.board, "1" * 22, time.time()) is None


def test_viche_vote_says_when_the_election_opens(client: TestClient, tmp_path: Path) -> None:
    from viche.web.client import VotingClient

    d = _draft(client, tmp_path)
    opening = math.ceil(time.time()) + 3600
    r = client.put(
        f"{d.base}/schedule", json={"open": iso_utc(opening)}, headers=bearer(d.administrator)
    )
    assert r.status_code == 200
    voting = VotingClient("http://testserver", http=cast(httpx.Client, client))
    with pytest.raises(NotOpenYetError) as refused:
        voting.setup(d.uuid)
    assert refused.value.opens == iso_utc(opening)
    assert str(refused.value).startswith(
        f"[V3009] this election opens at {iso_utc(opening)}: the server takes ballots once it "
        "is open; vote again then"
    )
