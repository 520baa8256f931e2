"""Casting a ballot on an :class:`~viche.record.store.ElectionStore` (the voting server).

Every check of ``archive add-ballot`` runs: the ballot's own checks (size, canonical form,
election, credential on the list, proofs, signature — pure, run before the lock so that
ballots are checked in parallel), the credential bound to the authenticated voter, then,
under the store's write lock, the phase, the replay check and the append. The function
returns only after the Ballot event is durable; a refused ballot leaves the store unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from viche.errors import CredentialBindingError, Location, PhaseError, ReplayedBallotError
from viche.protocol import codec
from viche.protocol.ballot import CheckedBallot, check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.trustees import Trustees
from viche.record.events import EventType
from viche.record.store import ChainHead, ElectionStore, SetupBytes, StoredBallot
from viche.service.archive import Accepted

#: Chain heads after which ballots are accepted.
VOTING = frozenset({EventType.SETUP, EventType.BALLOT})


@dataclass(frozen=True)
class ElectionSetup:
    """The setup of a stored election, parsed once (the bytes are those of the record)."""

    setup: SetupBytes

    @cached_property
    def election(self) -> Election:
        return Election.from_bytes(self.setup.election, "record / election")

    @cached_property
    def trustees(self) -> Trustees:
        return Trustees.from_json(
            codec.loads(self.setup.trustees, "record / trustees"), "record / trustees"
        )

    @cached_property
    def credentials(self) -> PublicCredentials:
        return PublicCredentials.from_bytes(self.setup.credentials, "record / credentials")


def require_voting(store: ElectionStore, head: ChainHead | None = None) -> ChainHead:
    """The head, if the vote is open (:class:`PhaseError` otherwise)."""
    head = head or store.head()
    if head.type not in VOTING:
        raise PhaseError(
            f"the vote is closed (the record ends with {head.type.value})",
            where=Location(member=store.name, event=head.height),
        )
    return head


def cast_ballot(
    store: ElectionStore,
    setup: ElectionSetup,
    raw: bytes,
    *,
    voter_credential: str | None = None,
) -> Accepted:
    """Check ``raw`` fully and append it; ``voter_credential`` (the public credential bound to
    the authenticated voter) must be the ballot's. Returns once the event is durable."""
    require_voting(store)
    checked = check_ballot(setup.election, raw, setup.credentials)
    if voter_credential is not None and checked.credential != voter_credential:
        raise CredentialBindingError(
            "this ballot is signed with another voter's credential",
            where=Location(ballot=checked.tracker, path=("credential",)),
        )
    with store.locked():
        return _append(store, checked)


def _append(store: ElectionStore, checked: CheckedBallot) -> Accepted:
    head = require_voting(store)
    earlier = store.ballot_by_hash(checked.hex_hash)
    if earlier is not None:
        raise ReplayedBallotError(
            f"this exact ballot is already in the record (event {earlier.height}); "
            "a replayed ballot is refused",
            where=Location(ballot=checked.tracker),
        )
    revote = store.last_ballot(checked.credential) is not None
    new = store.append(
        EventType.BALLOT,
        [checked.raw],
        expected_head=head.hash,
        ballot=StoredBallot(0, "", checked.hex_hash, checked.credential),
    )
    return Accepted(checked.tracker, new.hash, new.height, revote, checked.weight)
