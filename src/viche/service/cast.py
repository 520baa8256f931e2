"""Casting a ballot: the voting server's use case (and ``viche archive add-ballot``).

:func:`cast_ballot` checks a ballot fully, then appends it under the store's lock with the
head it checked against, so that two servers (or two processes) casting at once can never
both pass the replay check with the same ballot. A refused ballot changes nothing.

Its cost does not grow with the number of ballots already cast: the cryptographic checks
use the parsed setup (and the powers each ballot needs computed together,
:func:`~viche.verify.prefill.check_ballot_fast`), and the phase, replay and re-vote
questions are index look-ups (:class:`~viche.record.store.ElectionStore`). Under the lock
only those look-ups and the append run: the chain head is read once and the append expects
it.
"""

from __future__ import annotations

from dataclasses import dataclass

from viche.errors import NOWHERE, Location, PhaseError, ReplayedBallotError
from viche.protocol.ballot import CheckedBallot
from viche.record.events import EventType
from viche.record.store import ChainHead, StoredBallot
from viche.service.archive import VOTING, ElectionRecord
from viche.verify.prefill import check_ballot_fast


@dataclass(frozen=True)
class Accepted:
    """What the record accepted: the smart ballot tracker, the Ballot event's hash and
    height, whether it replaces an earlier ballot of the same credential, its weight."""

    tracker: str
    event_hash: str
    height: int
    revote: bool
    weight: int


def check_phase(state: ElectionRecord, head: ChainHead | None = None) -> None:
    """Ballots are accepted only until EndBallots (``head``: the chain head, when the
    caller has just read it)."""
    if head is None:
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
    checked = check_ballot_fast(state.election, raw, state.credentials, source)
    check_not_replayed(state, checked)
    return checked


def cast_ballot(state: ElectionRecord, raw: bytes, source: Location = NOWHERE) -> Accepted:
    """Check ``raw`` fully and append it; on any failure nothing is written.

    The proofs are checked before the lock is taken (they take the time); the phase and
    the replay check are repeated under the lock, against the head the append then
    expects."""
    check_phase(state)
    checked = check_ballot_fast(state.election, raw, state.credentials, source)
    store = state.store
    with store.locked():
        head = store.head()
        check_phase(state, head)
        check_not_replayed(state, checked)
        revote = store.last_ballot(checked.credential) is not None
        head = store.append(
            EventType.BALLOT,
            [raw],
            expected_head=head.hash,
            ballot=StoredBallot(0, "", checked.hex_hash, checked.credential),
        )
    state.refresh()
    return Accepted(checked.tracker, head.hash, head.height, revote, checked.weight)
