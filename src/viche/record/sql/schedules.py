"""When elections open and close by themselves: stored beside the record, never in it.

Times are Unix seconds (UTC). Parsing, checking and acting on them is
:mod:`viche.service.schedule`'s job; this module only stores and finds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from viche.errors import Location
from viche.record.sql import schema
from viche.record.sql.board import SqlBoard, db_error


@dataclass(frozen=True)
class Schedule:
    election: str
    open_at: int | None
    close_at: int | None


def put_schedule(board: SqlBoard, uuid: str, open_at: int | None, close_at: int | None) -> None:
    """Store (or replace) the schedule of ``uuid``."""
    s = schema.schedules.c
    try:
        with board.engine.begin() as conn:
            conn.execute(delete(schema.schedules).where(s.election == uuid))
            conn.execute(
                insert(schema.schedules).values(
                    election=uuid, open_at=open_at, close_at=close_at, claimed_at=None
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def _rows(board: SqlBoard, uuid: str | None) -> list[Schedule]:
    s = schema.schedules.c
    query = select(s.election, s.open_at, s.close_at)
    if uuid is not None:
        query = query.where(s.election == uuid)
    else:
        query = query.where(or_(s.open_at.is_not(None), s.close_at.is_not(None)))
    try:
        with board.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member="database / schedules")) from None
    return [Schedule(str(r[0]), r[1], r[2]) for r in rows]


def schedule(board: SqlBoard, uuid: str) -> Schedule | None:
    found = _rows(board, uuid)
    return found[0] if found else None


def schedules(board: SqlBoard) -> list[Schedule]:
    """Every election with an opening or a closing time."""
    return _rows(board, None)


def claim_opening(board: SqlBoard, uuid: str, now: int, lease: int) -> bool:
    """Claim the opening of ``uuid`` for this process: true for one claimant at a time (a
    claim older than ``lease`` seconds, left by a process that died, may be taken over)."""
    s = schema.schedules.c
    try:
        with board.engine.begin() as conn:
            done = conn.execute(
                update(schema.schedules)
                .where(
                    s.election == uuid,
                    or_(s.claimed_at.is_(None), s.claimed_at < now - lease),
                )
                .values(claimed_at=now)
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return bool(done.rowcount == 1)
