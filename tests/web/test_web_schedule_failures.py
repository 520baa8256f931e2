"""A scheduled opening or closing that fails is kept beside the schedule: shown to the
administrator by ``GET …/schedule`` (code, message, when, attempts, next attempt), counted
in the metrics, retried every ``RETRY_AFTER`` seconds; a success, the administrator's own
opening or closing, or a new schedule clears it."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.web import Drafted, bearer, draft_over_api, iso_utc, poll, ready_draft
from viche.crypto.group import group_by_name
from viche.crypto.rng import SeededRandom
from viche.errors import DatabaseError, Location
from viche.record.sql import SqlBoard
from viche.record.sql.schedules import put_schedule, schedule
from viche.service import schedule as scheduling
from viche.service import tally
from viche.service.hosting import Host
from viche.service.setup import new_trustee_key
from viche.web.app import create_app
from viche.web.ops import OpsConfig


def _keyless(c: TestClient, tmp_path: Path) -> Drafted:
    """A draft with its roll and credentials but no trustee key: it cannot open."""
    from viche.service.demo import DEMO_TEMPLATE

    server = (tmp_path / "admin.secret").read_text().strip()
    spec = {"template": DEMO_TEMPLATE, "trustees": 1}
    return draft_over_api(c, server, spec, ["ann", "ben"], SeededRandom("failing"))


def _upload_key(c: TestClient, d: Drafted, tmp_path: Path) -> None:
    key = new_trustee_key(group_by_name("BELENIOS-2048"), tmp_path, SeededRandom("key"))
    r = c.put(
        f"{d.base}/trustees/1",
        content=key.pubkey.read_bytes().strip(),
        headers=bearer(d.trustees[0], "application/json"),
    )
    assert r.status_code == 204, r.text


def _failed(c: TestClient, d: Drafted) -> Any:
    r = c.get(f"{d.base}/schedule", headers=bearer(d.administrator))
    assert r.status_code == 200, r.text
    return r.json()["failed"]


def test_a_failed_opening_is_shown_counted_retried_and_cleared(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduling, "RETRY_AFTER", 2)
    with TestClient(create_app(host, OpsConfig.unlimited(), schedule_every=0.2)) as c:
        d = _keyless(c, tmp_path)
        opening = math.ceil(time.time()) + 1
        r = c.put(
            f"{d.base}/schedule", json={"open": iso_utc(opening)}, headers=bearer(d.administrator)
        )
        assert r.status_code == 200 and r.json()["failed"] is None, r.text
        poll(lambda: _failed(c, d) is not None)
        failed = _failed(c, d)
        assert failed["action"] == "open" and failed["code"] == "V3005", failed
        assert failed["message"] == "trustee 1 has not uploaded a key"
        assert failed["attempts"] >= 1
        at = scheduling.parse_time(failed["at"], Location())
        assert at >= opening
        assert scheduling.parse_time(failed["retry"], Location()) == at + 2
        # the public sees the times, never the failure; a wrong secret is refused
        public = c.get(f"{d.base}/schedule").json()
        assert public == {"open": iso_utc(opening), "close": None, "failed": None}
        assert c.get(f"{d.base}/schedule", headers=bearer(d.authority)).status_code == 401
        metrics = c.get("/metrics").text
        assert (
            f'viche_schedule_failures{{election="{d.uuid}",action="open",code="V3005"}}' in metrics
        )
        # retried: the attempts grow (every 2 s here, every minute by default)
        poll(lambda: _failed(c, d)["attempts"] >= 2)
        # the administrator uploads the missing key: the next attempt opens the election
        _upload_key(c, d, tmp_path)
        poll(lambda: c.get(d.base).status_code == 200)
        assert _failed(c, d) is None  # open: a failed opening is moot at once
        # and cleared from the database (the metrics read it) right after the opening
        poll(lambda: "viche_schedule_failures{" not in c.get("/metrics").text)
        found = schedule(host.board, d.uuid)
        assert found is not None and found.failure is None


def test_retries_wait_and_a_new_schedule_clears_the_failure(host: Host, tmp_path: Path) -> None:
    c = TestClient(create_app(host, OpsConfig.unlimited()))  # no lifespan: run_due by hand
    d = _keyless(c, tmp_path)
    now = time.time()
    put_schedule(host.board, d.uuid, int(now) - 1, None)
    assert scheduling.run_due(host, now) == int(now) + scheduling.RETRY_AFTER
    found = schedule(host.board, d.uuid)
    assert found is not None and found.failure is not None
    assert (found.failure.action, found.failure.attempts) == ("open", 1)
    # not tried again before the retry time; tried at it
    assert scheduling.run_due(host, now + 30) == int(now) + scheduling.RETRY_AFTER
    assert _failed(c, d)["attempts"] == 1
    scheduling.run_due(host, now + scheduling.RETRY_AFTER)
    assert _failed(c, d)["attempts"] == 2
    # a new schedule clears it
    opening = math.ceil(time.time()) + 3600
    r = c.put(
        f"{d.base}/schedule", json={"open": iso_utc(opening)}, headers=bearer(d.administrator)
    )
    assert r.status_code == 200 and r.json()["failed"] is None
    assert _failed(c, d) is None


def test_an_opening_by_hand_clears_a_failed_opening(host: Host, tmp_path: Path) -> None:
    c = TestClient(create_app(host, OpsConfig.unlimited()))
    d = _keyless(c, tmp_path)
    now = time.time()
    put_schedule(host.board, d.uuid, int(now) - 1, None)
    scheduling.run_due(host, now)
    assert _failed(c, d)["action"] == "open"
    _upload_key(c, d, tmp_path)
    assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
    assert _failed(c, d) is None


def test_a_failed_closing_is_kept_retried_and_cleared(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    c = TestClient(create_app(host, OpsConfig.unlimited()))
    server = (tmp_path / "admin.secret").read_text().strip()
    d = ready_draft(c, server, ["ann"], SeededRandom("closing"), tmp_path)
    assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
    now = time.time()
    put_schedule(host.board, d.uuid, None, int(now) - 1)

    def down(*_: object, **__: object) -> None:
        raise DatabaseError("the database failed: OperationalError", where=Location())

    with monkeypatch.context() as m:
        m.setattr(tally, "close", down)
        with caplog.at_level("WARNING", logger="viche.schedule"):
            assert scheduling.run_due(host, now) == int(now) + scheduling.RETRY_AFTER
    said = [r.getMessage() for r in caplog.records if r.name == "viche.schedule"]
    assert said == ["scheduled closing failed"]
    failed = _failed(c, d)
    assert (failed["action"], failed["code"], failed["attempts"]) == ("close", "V4010", 1)
    assert c.get(d.base).json()["phase"] == "open"
    scheduling.run_due(host, now + scheduling.RETRY_AFTER)  # the database is back
    assert c.get(d.base).json()["phase"] == "closed"
    assert _failed(c, d) is None


def test_migration_0008_keeps_the_schedules_and_goes_back(board_url: str) -> None:
    """A board at 0007 with a schedule: upgraded, the schedule is kept with no failure;
    downgraded to 0007 and upgraded again, the same."""
    import sqlalchemy
    from alembic import command
    from alembic.config import Config

    from viche.record.sql import engine_url
    from viche.record.sql.board import _MIGRATIONS

    engine = sqlalchemy.create_engine(engine_url(board_url))

    def to(revision: str, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)

    try:
        to("0007")
        with engine.begin() as conn:
            conn.execute(
                sqlalchemy.text("INSERT INTO schedules (election, open_at) VALUES ('e1', 99)")
            )
        to("0008")
        board = SqlBoard.open(board_url)
        try:
            found = schedule(board, "e1")
            assert found is not None and (found.open_at, found.failure) == (99, None)
        finally:
            board.close()
        to("0007", down=True)
        with engine.connect() as conn:
            kept = [r[0] for r in conn.execute(sqlalchemy.text("SELECT open_at FROM schedules"))]
        assert kept == [99]
        to("head")
    finally:
        engine.dispose()
