"""Elections that open and close by themselves at times the administrator set.

* :func:`set_schedule` — the administrator's opening and closing times (ISO 8601, UTC,
  parsed by :func:`parse_time`), checked against the election's phase;
* :func:`run_due` — what the server's background task runs at start and periodically: open
  every draft whose opening time has come (one server process claims each opening), close
  every open election whose closing time has passed (a time passed while the server was
  down is acted on at start);
* :func:`check_before_close` — casting refuses a ballot once the closing time has passed,
  even before the background task has written the close;
* :func:`not_open_yet` — what the public is told of an election still being set up.

A scheduled opening or closing that fails (an opening without every trustee's key, a
database down) is kept beside the schedule (:func:`failure`: the error's code and message,
when, how many attempts in a row), logged, shown to the administrator (``GET …/schedule``
with the administrator's secret, the admin page) and in the metrics. It is **retried** every
:data:`RETRY_AFTER` seconds, on every server process's check, until it succeeds: the
administrator fixes the cause (uploads the missing key) and the election opens within a
minute, at the time set or as soon after it as it can. A success, the administrator's own
opening or closing, or a new schedule (``PUT …/schedule``, which also unsets it) clears the
failure. Ballots are refused from the closing time on whether or not the close was written.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from viche.errors import (
    Location,
    NotFoundError,
    NotOpenYetError,
    PhaseError,
    UsageError,
    VicheError,
)
from viche.record.events import EventType
from viche.record.sql import SqlBoard
from viche.record.sql.accounts import draft
from viche.record.sql.schedules import (
    Failure,
    Schedule,
    claim_opening,
    clear_failure,
    failures,
    pending_opening,
    put_schedule,
    record_failure,
    schedule,
    schedules,
)
from viche.service import tally
from viche.service.admin import open_draft
from viche.service.archive import VOTING
from viche.service.hosting import Host

log = logging.getLogger("viche.schedule")

#: seconds after which a claim on an opening, left by a process that died, is taken over
CLAIM_LEASE = 60
#: seconds between two attempts of a scheduled opening or closing that failed
RETRY_AFTER = 60


def parse_time(text: str, where: Location) -> int:
    """An ISO 8601 time in UTC (``2026-05-01T06:00:00Z`` or ``+00:00``) as Unix seconds
    (a fraction of a second is rounded up: the time is never earlier than written)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"not an ISO 8601 time: {text[:64]!r}", where=where) from None
    if moment.tzinfo is None or moment.utcoffset() != timedelta(0):
        raise UsageError("the time must be in UTC (end it with Z or +00:00)", where=where)
    return math.ceil(moment.timestamp())


def format_time(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Times:
    open: str | None
    close: str | None


def _phase(host: Host, uuid: str) -> str:
    """draft, open or closed (:class:`NotFoundError` for an unknown election)."""
    if draft(host.board, uuid) is not None:
        return "draft"
    try:
        head = host.store(uuid).head()
    except VicheError:
        raise NotFoundError("no such election", where=Location(member=uuid)) from None
    return "open" if head.type in VOTING else "closed"


def not_open_yet(board: SqlBoard, uuid: str, now: float) -> NotOpenYetError | None:
    """The answer to the public for ``uuid`` when it is an election still being set up (a
    draft), None otherwise. It tells that the election exists and, when the administrator
    scheduled it, when it opens; nothing of its contents (questions, trustees, voters), which
    may change until the opening and are published by it."""
    is_draft, open_at = pending_opening(board, uuid)
    if not is_draft:
        return None
    where = Location(member=uuid)
    if open_at is None:
        return NotOpenYetError("this election is not open yet", where=where)
    at = format_time(open_at)
    if open_at > now:
        return NotOpenYetError(f"this election opens at {at}", where=where, opens=at)
    return NotOpenYetError(
        f"this election was to open at {at}; it is not open yet", where=where, opens=at
    )


def failure(host: Host, uuid: str) -> Failure | None:
    """The last failure of ``uuid``'s scheduled opening or closing, if it has not succeeded
    since (for its administrator: the message may name voters or trustees). A failed opening
    of an election open since, or a failed closing of one closed since, is not one (the
    background task clears it on its next check)."""
    phase = _phase(host, uuid)
    found = schedule(host.board, uuid)
    failed = None if found is None else found.failure
    if failed is None:
        return None
    moot = phase != "draft" if failed.action == "open" else phase == "closed"
    return None if moot else failed


def failed(host: Host) -> list[tuple[str, str, str, int]]:
    """(election, action, error code, attempts in a row) of every scheduled step whose last
    attempt failed (for the metrics)."""
    return [(uuid, f.action, f.code, f.attempts) for uuid, f in failures(host.board)]


def settled(host: Host, uuid: str) -> None:
    """The administrator opened or closed ``uuid`` by hand: a failure of the schedule's
    opening or closing is moot."""
    clear_failure(host.board, uuid)


def times(host: Host, uuid: str) -> Times:
    """The schedule of ``uuid`` (both unset when none was set)."""
    _phase(host, uuid)
    found = schedule(host.board, uuid)
    if found is None:
        return Times(None, None)
    return Times(format_time(found.open_at), format_time(found.close_at))


def set_schedule(
    host: Host, uuid: str, open_at: int | None, close_at: int | None, now: float
) -> Times:
    """Set (or, with ``None``, unset) the opening and closing times of ``uuid``."""
    phase = _phase(host, uuid)
    where = Location(member=uuid, path=("schedule",))
    if phase == "closed":
        raise PhaseError("the vote is closed: there is nothing to schedule", where=where)
    if phase == "open" and open_at is not None:
        raise PhaseError("the vote is already open", where=where.sub("open"))
    for name, at in (("open", open_at), ("close", close_at)):
        if at is not None and at <= now:
            raise UsageError(f"the {name} time is already past", where=where.sub(name))
    if open_at is not None and close_at is not None and close_at <= open_at:
        raise UsageError("the vote must close after it opens", where=where.sub("close"))
    put_schedule(host.board, uuid, open_at, close_at)
    return times(host, uuid)


def check_before_close(host: Host, uuid: str, now: float) -> None:
    """Refuse a ballot once the scheduled closing time has passed."""
    found = schedule(host.board, uuid)
    refuse_after_close(uuid, None if found is None else found.close_at, now)


def refuse_after_close(uuid: str, close_at: int | None, now: float) -> None:
    """:class:`~viche.errors.PhaseError` when the closing time ``close_at`` has passed at
    ``now`` (the voting server checks it again under the lock, just before the append)."""
    if close_at is not None and close_at <= now:
        raise PhaseError(
            f"the vote closed at {format_time(close_at)}",
            where=Location(member=uuid, path=("schedule", "close")),
        )


def _report(host: Host, action: str, uuid: str, exc: VicheError, now: float) -> float:
    """Keep and log a failed scheduled ``action``; returns when it is tried again."""
    step = {"open": "opening", "close": "closing"}[action]
    log.warning(f"scheduled {step} failed", extra={"election": uuid, "error": exc.to_dict()})
    try:
        record_failure(
            host.board, uuid, action=action, code=exc.code, message=exc.message, at=int(now)
        )
    except VicheError as lost:  # the database is down: logged; tried again all the same
        log.warning("schedule failure not kept", extra={"election": uuid, "error": lost.to_dict()})
    return int(now) + RETRY_AFTER  # as the failure's time is kept: whole seconds


def _succeeded(host: Host, sch: Schedule, action: str) -> None:
    if sch.failure is not None:
        clear_failure(host.board, sch.election)
    log.info(f"{action} on schedule", extra={"election": sch.election})


def _due(host: Host, sch: Schedule, now: float) -> float | None:
    """Act on one schedule; returns the next time it needs attention, if any."""
    uuid = sch.election
    failed = sch.failure
    retry_at = None if failed is None else failed.at + RETRY_AFTER
    is_draft = draft(host.board, uuid) is not None
    if is_draft:
        if sch.open_at is None:
            return None
        if sch.open_at > now:
            return sch.open_at
        if retry_at is not None and retry_at > now:
            return retry_at
        if claim_opening(host.board, uuid, int(now), CLAIM_LEASE):
            try:
                open_draft(host.board, host.keys_dir, uuid)
            except VicheError as exc:
                return _report(host, "open", uuid, exc, now)
            _succeeded(host, sch, "opened")
            return now  # its closing time, if any, is looked at right away
        return None
    if failed is not None and failed.action == "open":
        clear_failure(host.board, uuid)  # opened since (by hand, or by another process)
        failed = retry_at = None
    if sch.close_at is None:
        return None
    try:
        head = host.store(uuid).head()
    except VicheError as exc:
        return _report(host, "close", uuid, exc, now)
    if head.type not in VOTING | {EventType.END_BALLOTS}:
        if failed is not None:
            clear_failure(host.board, uuid)  # closed since
        return None  # closed already
    if sch.close_at > now:
        return sch.close_at
    if retry_at is not None and retry_at > now:
        return retry_at
    try:
        tally.close(host.record(uuid), jobs=1)
    except PhaseError:
        if failed is not None:
            clear_failure(host.board, uuid)
        return None  # another process closed it
    except VicheError as exc:
        return _report(host, "close", uuid, exc, now)
    _succeeded(host, sch, "closed")
    return None


def run_due(host: Host, now: float) -> float | None:
    """Open and close what is due at ``now``; returns the next time something is due."""
    upcoming: list[float] = []
    for sch in schedules(host.board):
        at = _due(host, sch, now)
        if at is not None:
            upcoming.append(at)
    return min(upcoming, default=None)
