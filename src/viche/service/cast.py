"""Casting a ballot: the voting server's use case (and ``viche archive add-ballot``).

:func:`cast_ballot` checks a ballot fully, then appends it under the store's lock with the
head it checked against, so that two servers (or two processes) casting at once can never
both pass the replay check with the same ballot. A refused ballot changes nothing.

Its cost does not grow with the number of ballots already cast: the cryptographic checks
use the parsed setup, and the phase, replay and re-vote questions are index look-ups
(:class:`~viche.record.store.ElectionStore`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from viche.errors import NOWHERE, Location, PhaseError, ReplayedBallotError
from viche.protocol.ballot import CheckedBallot, check_ballot
from viche.record.events import EventType
from viche.record.store import StoredBallot
from viche.service.archive import VOTING, ElectionRecord


@dataclass(frozen=True)
class Accepted:
    """What the record accepted: the smart ballot tracker, the Ballot event's hash and
    height, whether it replaces an earlier ballot of the same credential, its weight."""

    tracker: str
    event_hash: str
    height: int
    revote: bool
    weight: int


def check_phase(state: ElectionRecord) -> None:
    """Ballots are accepted only until EndBallots."""
    head = state.store.head()
    if head.type not in VOTING:
        raise PhaseError(
            f"the vote is closed ({head.type.value} is in the record)",
            where=state.where.at(event=head.height),
        )


def check_not_replayed(state: ElectionRecord, checked: CheckedBallot) -> None:
    """A ballot identical to one already in the record is refused."""
    prior = state.store.ballot_by_hash(checked.hex_hash)
    if prior is not None:
        raise ReplayedBallotError(
            f"this exact ballot is already in the record (event {prior.height}); "
            "a replayed ballot is refused",
            where=Location(ballot=checked.tracker),
        )


def check_new_ballot(
    state: ElectionRecord, raw: bytes, source: Location = NOWHERE
) -> CheckedBallot:
    """Every check of a new ballot against the record, in the voting server's order: the
    phase, then the ballot itself (size, canonical form, election, credential on the list,
    answers, group membership, signature, proofs), then replays. ``source`` (e.g. the file
    name) starts the ``where`` of errors."""
    check_phase(state)
    checked = check_ballot(state.election, raw, state.credentials, where=source)
    check_not_replayed(state, checked)
    return checked


def cast_ballot(
    state: ElectionRecord,
    raw: bytes,
    source: Location = NOWHERE,
    *,
    guard: Callable[[CheckedBallot], None] | None = None,
    then: Callable[[CheckedBallot, Accepted], None] | None = None,
) -> Accepted:
    """Check ``raw`` fully and append it; on any failure nothing is written.

    The proofs are checked before the lock is taken (they take the time); the phase and
    the replay check are repeated under the lock, against the head the append then
    expects. A caller's rules beyond Belenios's (a national event's station locks,
    :mod:`viche.event.channels`) run under the same lock: ``guard`` before the append (it
    raises to refuse the ballot), ``then`` after it (e.g. to log the lock a station vote
    sets), so that no other ballot comes between."""
    check_phase(state)
    checked = check_ballot(state.election, raw, state.credentials, where=source)
    store = state.store
    with store.locked():
        check_phase(state)
        check_not_replayed(state, checked)
        if guard is not None:
            guard(checked)
        revote = store.last_ballot(checked.credential) is not None
        head = store.append(
            EventType.BALLOT,
            [raw],
            expected_head=store.head().hash,
            ballot=StoredBallot(0, "", checked.hex_hash, checked.credential),
        )
        accepted = Accepted(checked.tracker, head.hash, head.height, revote, checked.weight)
        if then is not None:
            then(checked, accepted)
    state.refresh()
    return accepted
