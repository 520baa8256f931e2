"""Scheduled opening and closing: the server opens a draft and closes the vote on time (the
lifespan's background task), refuses ballots from the closing time on, and acts at start on
a closing time that passed while it was down."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support.web import Drafted, bearer, iso_utc, poll, ready_draft, vote_over_api
from viche.crypto.rng import SeededRandom
from viche.errors import Location, PhaseError, UsageError
from viche.record.sql.schedules import put_schedule
from viche.service import schedule
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.ops import OpsConfig

CHOICES = [[0, 1, 0, 0, 0], [1, 0]]


def _phase(c: TestClient, uuid: str) -> str:
    r = c.get(f"/api/v1/elections/{uuid}")
    return str(r.json()["phase"]) if r.status_code == 200 else "draft"


def _ready_draft(c: TestClient, host: Host, tmp_path: Path) -> Drafted:
    """A draft with its roll, credentials and (Single) trustee key: ready to open."""
    server = (tmp_path / "admin.secret").read_text().strip()
    return ready_draft(c, server, ["ann", "ben"], SeededRandom("schedule"), tmp_path)


def test_opens_and_closes_on_time(host: Host, tmp_path: Path) -> None:
    app = create_app(host, OpsConfig.unlimited(), schedule_every=0.2)
    with TestClient(app) as c:
        d = _ready_draft(c, host, tmp_path)
        opening = math.ceil(time.time()) + 1
        times = {"open": iso_utc(opening), "close": iso_utc(opening + 3600)}
        assert (
            c.put(f"{d.base}/schedule", json=times, headers=bearer(d.authority)).status_code == 401
        )
        r = c.put(f"{d.base}/schedule", json=times, headers=bearer(d.administrator))
        assert r.status_code == 200 and r.json() == {**times, "failed": None}, r.text
        assert c.get(f"{d.base}/schedule").json() == {**times, "failed": None}
        assert _phase(c, d.uuid) == "draft"

        poll(lambda: _phase(c, d.uuid) == "open")
        assert time.time() >= opening
        assert c.get(f"{d.base}").json()["schedule"] == times
        vote_over_api(d, host, "ann", CHOICES, SeededRandom("ann"))
        r = c.put(f"{d.base}/schedule", json=times, headers=bearer(d.administrator))
        assert r.status_code == 409 and r.json()["where"]["path"] == ["schedule", "open"]
        # the administrator brings the close forward, to a second from now
        closing = math.ceil(time.time()) + 1
        r = c.put(
            f"{d.base}/schedule", json={"close": iso_utc(closing)}, headers=bearer(d.administrator)
        )
        assert r.status_code == 200
        assert r.json() == {"open": None, "close": iso_utc(closing), "failed": None}

        poll(lambda: _phase(c, d.uuid) == "closed")
        assert time.time() >= closing
        # the close and the encrypted tally are two events: the phase may be read between them
        poll(lambda: host.record(d.uuid).record.encrypted_tally is not None)
        ballot = c.post(
            f"{d.base}/ballots",
            content=b"{}",
            headers={"Content-Type": "application/json"},
            auth=("ben", d.logins["ben"]),
        )
        assert ballot.status_code == 409 and ballot.json()["code"] == "V3005"
        r = c.put(f"{d.base}/schedule", json={"close": None}, headers=bearer(d.administrator))
        assert r.status_code == 409


def test_a_close_time_passed_while_down_closes_at_start(host: Host, tmp_path: Path) -> None:
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=600)) as c:
        d = _ready_draft(c, host, tmp_path)
        assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
        close = iso_utc(math.ceil(time.time()) + 3600)
        r = c.put(f"{d.base}/schedule", json={"close": close}, headers=bearer(d.administrator))
        assert r.status_code == 200
        assert r.json() == {"open": None, "close": close, "failed": None}
        vote_over_api(d, host, "ann", CHOICES, SeededRandom("ann"))
    # the server is down when the closing time passes
    put_schedule(host.board, d.uuid, None, int(time.time()) - 5)
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=600)) as c:
        poll(lambda: _phase(c, d.uuid) == "closed")
        # the encrypted tally follows the close (its own step): wait for it too
        poll(lambda: host.record(d.uuid).record.encrypted_tally is not None)


def test_ballots_are_refused_from_the_closing_time(host: Host, tmp_path: Path) -> None:
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=600)) as c:
        d = _ready_draft(c, host, tmp_path)
        assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
        close = math.ceil(time.time()) + 3600
        r = c.put(
            f"{d.base}/schedule", json={"close": iso_utc(close)}, headers=bearer(d.administrator)
        )
        assert r.status_code == 200
        schedule.check_before_close(host, d.uuid, close - 1)  # twin: still open
        with pytest.raises(PhaseError) as refused:
            schedule.check_before_close(host, d.uuid, close)
        assert refused.value.where == Location(member=d.uuid, path=("schedule", "close"))


def test_bad_schedules_are_refused(host: Host, tmp_path: Path) -> None:
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        d = _ready_draft(c, host, tmp_path)
        now = math.ceil(time.time())
        adm = bearer(d.administrator)
        cases = [
            ({"open": "2030-01-01T10:00:00+02:00"}, 400, ["body", "open"]),
            ({"open": "tomorrow"}, 400, ["body", "open"]),
            ({"close": iso_utc(now - 10)}, 400, ["schedule", "close"]),
            ({"open": iso_utc(now + 100), "close": iso_utc(now + 50)}, 400, ["schedule", "close"]),
            ({"open": 5}, 400, ["body", "open"]),
        ]
        for body, status, path in cases:
            r = c.put(f"{d.base}/schedule", json=body, headers=adm)
            assert r.status_code == status, (body, r.text)
            assert r.json()["where"]["path"] == path, (body, r.json())
        assert c.get(f"{d.base}/schedule").json() == {"open": None, "close": None, "failed": None}
        r = c.put("/api/v1/elections/nope/schedule", json={}, headers=adm)
        assert r.status_code == 401


def test_parse_time() -> None:
    where = Location(path=("t",))
    assert schedule.parse_time("2026-05-01T06:00:00Z", where) == 1777615200
    assert schedule.parse_time("2026-05-01T06:00:00.2+00:00", where) == 1777615201
    assert schedule.format_time(1777615200) == "2026-05-01T06:00:00Z"
    for bad in ("2026-05-01T06:00:00", "2026-05-01T08:00:00+02:00", "", "x" * 1000):
        with pytest.raises(UsageError):
            schedule.parse_time(bad, where)
