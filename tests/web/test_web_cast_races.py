"""What must hold at the append, whatever happened while the ballot was being checked:
an audited ballot is never cast (and a cast ballot is never audited), and no ballot is
appended once the scheduled closing time has passed, even before the close is written.

Each race is made certain rather than likely: the event that races with the cast (an
audit, the closing time) is made to happen exactly while the ballot's check runs, after
the checks that ran before it (on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from support.web import Served
from viche.errors import DatabaseError
from viche.protocol.ballot import CheckedBallot, smart_ballot_tracker
from viche.record.sql import SqlBoard
from viche.record.sql.schedules import put_schedule
from viche.service import cast
from viche.verify import prefill

JSON = {"Content-Type": "application/json"}


def _during_check(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> None:
    """``action`` runs once, right after the ballot's own check passed (before the append)."""
    real = prefill.check_ballot_fast
    done: list[bool] = []

    def checked_then_act(*args: object, **kwargs: object) -> CheckedBallot:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        if not done:
            done.append(True)
            action()
        return out

    monkeypatch.setattr(cast, "check_ballot_fast", checked_then_act)
    # the web route calls the check through its own import of the same function
    from viche.web.routers import ballots

    monkeypatch.setattr(ballots, "check_ballot_fast", checked_then_act, raising=False)


def test_an_audit_during_the_check_of_the_same_ballot_wins(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = served
    raw = s.ballot(1, "raced")
    audits = f"/api/v1/elections/{s.uuid}/audits"
    answers: list[int] = []

    def audit() -> None:
        # a second client (the booth) audits the very ballot being cast
        r = s.client.post(audits, content=raw, headers=JSON)
        answers.append(r.status_code)

    _during_check(monkeypatch, audit)
    head = s.store.head()
    r = s.post_ballot(raw, 1)
    assert answers == [201]  # the audit was taken: the ballot must never be cast
    assert r.status_code == 409 and r.json()["code"] == "V3008", r.text
    assert r.json()["where"] == {"ballot": smart_ballot_tracker(raw)}
    assert s.store.head() == head and s.store.ballot_count() == 0


def test_a_cast_ballot_cannot_be_audited_afterwards(served: Served) -> None:
    s = served
    raw, answer = s.cast(2, "cast-first")
    head = s.store.head()
    r = s.client.post(f"/api/v1/elections/{s.uuid}/audits", content=raw, headers=JSON)
    assert r.status_code == 409 and r.json()["code"] == "V3002", r.text
    assert r.json()["where"] == {"ballot": answer["tracker"]}
    # it stays cast, and is not remembered as audited: a replay is refused as a replay
    assert s.store.head() == head
    again = s.post_ballot(raw, 2)
    assert again.status_code == 409 and again.json()["code"] == "V3002", again.text


def test_the_closing_time_passing_during_the_check_refuses_the_ballot(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = served
    raw = s.ballot(3, "late")

    def close_time_passes() -> None:
        # the schedule's closing time is now past; the background task has not closed yet
        put_schedule(s.host.board, s.uuid, None, int(time.time()) - 1)

    _during_check(monkeypatch, close_time_passes)
    head = s.store.head()
    r = s.post_ballot(raw, 3)
    assert r.status_code == 409 and r.json()["code"] == "V3005", r.text
    assert r.json()["where"] == {"member": s.uuid, "path": ["schedule", "close"]}
    assert "closed at" in r.json()["message"]
    assert s.store.head() == head and s.store.ballot_count() == 0



@pytest.mark.parametrize("board_url", ["postgresql"], indirect=True)
def test_a_dropped_database_connection_fails_one_request_then_reconnects(board_url: str) -> None:
    """No ping before each use of a pooled connection (a round trip per look-up on the cast
    path): when the database drops a connection (a PostgreSQL restart), the one request that
    meets it first fails with a typed error, and the next ones reconnect."""
    board = SqlBoard.open(board_url, pool_size=1)
    try:
        with board.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        board.elections()  # the one pooled connection, alive
        killer = SqlBoard.open(board_url, pool_size=1)
        try:
            with killer.engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        finally:
            killer.close()
        with pytest.raises(DatabaseError) as err:
            board.elections()
        assert err.value.code == "V4010"
        assert board.elections() == [] and board.elections() == []
    finally:
        board.close()
