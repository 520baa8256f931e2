"""When elections open and close by themselves: stored beside the record, never in it.

Times are Unix seconds (UTC). Parsing, checking and acting on them is
:mod:`viche.service.schedule`'s job; this module only stores and finds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from viche.errors import Location
from viche.record.sql import schema
from viche.record.sql.board import SqlBoard, db_error

#: the longest message of a failure kept (a longer one is cut)
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Failure:
    """The last failure of a scheduled ``action`` (``open`` or ``close``): the error's code
    and message, when (Unix seconds), and how many attempts in a row have failed."""

    action: str
    code: str
    message: str
    at: int
    attempts: int


@dataclass(frozen=True)
class Schedule:
    election: str
    open_at: int | None
    close_at: int | None
    failure: Failure | None = None


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
    query = select(
        s.election, s.open_at, s.close_at,
        s.failed_action, s.failed_code, s.failed_message, s.failed_at, s.failures,
    )  # fmt: skip
    if uuid is not None:
        query = query.where(s.election == uuid)
    else:
        query = query.where(or_(s.open_at.is_not(None), s.close_at.is_not(None)))
    try:
        with board.engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member="database / schedules")) from None
    return [
        Schedule(
            str(r[0]),
            r[1],
            r[2],
            None if r[3] is None else Failure(str(r[3]), str(r[4]), str(r[5]), r[6], r[7]),
        )
        for r in rows
    ]


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


def record_failure(
    board: SqlBoard, uuid: str, *, action: str, code: str, message: str, at: int
) -> None:
    """Keep the failure of the scheduled ``action`` of ``uuid`` (one more attempt in a row
    if the last one failed too) and release the claim on its opening."""
    s = schema.schedules.c
    try:
        with board.engine.begin() as conn:
            conn.execute(
                update(schema.schedules)
                .where(s.election == uuid)
                .values(
                    claimed_at=None,
                    failed_action=action,
                    failed_code=code[:8],
                    failed_message=message[:MAX_MESSAGE],
                    failed_at=at,
                    failures=func.coalesce(s.failures, 0) + 1,
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def clear_failure(board: SqlBoard, uuid: str) -> None:
    """Forget the failure of ``uuid``'s schedule (it succeeded since, or is moot)."""
    s = schema.schedules.c
    try:
        with board.engine.begin() as conn:
            conn.execute(
                update(schema.schedules)
                .where(s.election == uuid, s.failed_action.is_not(None))
                .values(
                    failed_action=None,
                    failed_code=None,
                    failed_message=None,
                    failed_at=None,
                    failures=None,
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def failures(board: SqlBoard) -> list[tuple[str, Failure]]:
    """Every election whose scheduled opening or closing failed last, with that failure."""
    return [(sch.election, sch.failure) for sch in _rows(board, None) if sch.failure]


def pending_opening(board: SqlBoard, uuid: str) -> tuple[bool, int | None]:
    """Whether ``uuid`` is a draft (an election being set up), and its opening time if
    one is scheduled: one look-up, the draft's state is not read."""
    d, s = schema.drafts.c, schema.schedules.c
    query = (
        select(d.uuid, s.open_at)
        .select_from(schema.drafts.outerjoin(schema.schedules, s.election == d.uuid))
        .where(d.uuid == uuid)
    )
    try:
        with board.engine.connect() as conn:
            row = conn.execute(query).first()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return (False, None) if row is None else (True, row[1])
