"""After the event closes: each style's tally, decryption and result, then the event's
published turnout per channel and the national sum (:mod:`viche.event.published`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viche.crypto.rng import RandomSource
from viche.errors import Location, PhaseError, UsageError
from viche.event.channels import EventDesk
from viche.event.outcome import RESULTS, EventBallots, event_outcome
from viche.event.published import (
    NATIONAL,
    TURNOUT,
    BallotRef,
    channel_turnout,
    national_body,
    turnout_body,
    write_document,
)
from viche.protocol.election import HomomorphicQuestion
from viche.record.archive_store import ballot_credential
from viche.service import tally

Say = Callable[[str], None]


@dataclass(frozen=True)
class EventResult:
    #: style id -> the style's result rows (one per question)
    styles: dict[str, list[list[int]]]
    national: list[int]
    turnout: dict[str, dict[str, int]]


def _president(p: dict[str, Any]) -> str:
    if "undecided" in p:
        return f"undecided ({p['undecided']})"
    return str(p["winner"]) if p["winner"] else "repeat vote of " + " and ".join(p["runoff"])


def _seats(p: dict[str, Any]) -> str:
    if "undecided" in p:
        return f"undecided ({p['undecided']})"
    return str({x["party"]: x["seats"] for x in p["allocation"]["parties"]})


def _quiet(_: str) -> None:
    return None


def count_event(
    desk: EventDesk,
    trustee_keys: Sequence[Path],
    rng: RandomSource,
    *,
    say: Say = _quiet,
    jobs: int | None = 1,
    ballots: EventBallots | None = None,
) -> EventResult:
    """After the event's closing time: close every style, have each (Single) trustee
    decrypt, publish each result, then sign and write ``turnout.json`` and ``national.json``
    (and, with the event's ``ballots``, ``results.json``: the presidential round and the
    Rada's seats)."""
    manifest = desk.manifest
    if desk.now() < manifest.closing_time:
        raise PhaseError(
            f"the vote is open until {manifest.closes}: no style is counted before the close",
            where=Location(file=str(desk.directory)),
        )
    results: dict[str, list[list[int]]] = {}
    turnout: dict[str, dict[str, int]] = {}
    locks = desk.locks.read_all()
    relays = desk.relays.read_all()
    for style in manifest.styles:
        state = desk.record(style)
        closed = tally.close(state, jobs=jobs)
        for tid, key in enumerate(trustee_keys, start=1):
            lines = tally.partial_decryption(state, tally.single_key(key), tid, rng)
            tally.add_decryption(state, lines)
        result, _ = tally.publish_result(state)
        rows: list[list[int]] = []
        for row in result.result:
            rows.append([int(v) for v in row if isinstance(v, int)])
        results[style.id] = rows
        refs = [
            BallotRef(b.height, b.hash, ballot_credential(b.raw)) for b in state.record.ballots
        ]
        locked = {e.credential for e in locks if e.election == style.election}
        relayed = {e.ballot_hash for e in relays if e.election == style.election}
        turnout[style.id] = channel_turnout(refs, locked, relayed)
        say(
            f"administrator: style {style.id} closed and counted ({closed.num_tallied} "
            f"ballots counted of {closed.ballots} cast)"
        )
    first = desk.record(manifest.styles[0]).election.questions[0]
    if not isinstance(first, HomomorphicQuestion):
        raise UsageError(
            "the national question must be homomorphic", where=Location(path=("questions", "1"))
        )
    national = national_body(
        manifest.id,
        first.question,
        first.answers,
        first.blank,
        {sid: rows[0] for sid, rows in results.items()},
    )
    body = turnout_body(manifest.id, turnout)
    write_document(desk.directory / TURNOUT, "turnout", body, desk.key)
    write_document(desk.directory / NATIONAL, "national", national, desk.key)
    say("administrator: turnout per channel and the national sum signed and published")
    if ballots is not None:
        outcome = event_outcome(ballots, results)
        write_document(desk.directory / RESULTS, "results", outcome, desk.key)
        say(f"administrator: presidential round: {_president(outcome['presidential'])}; Rada "
            f"seats (Arts. 183-185): {_seats(outcome['parliament'])}")  # fmt: skip
    sums = national["result"]
    assert isinstance(sums, list)
    return EventResult(results, [int(v) for v in sums], turnout)
