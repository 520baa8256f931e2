"""Mixnet step of the tally (spec 3.4 step 3): trustees shuffle the non-homomorphic rows.

After ``EncryptedTally`` and before any partial decryption of an election with
non-homomorphic questions:

* :func:`shuffle` — what ``belenios-tool election shuffle --trustee-id N`` prints: the two
  lines ``shuffle`` and ``owned_shuffle``, shuffling the rows left by the last shuffle (or the
  encrypted tally's), after re-checking every shuffle already in the archive;
* :func:`add_shuffle` — check such lines (canonical, owner, proofs against the current rows)
  and append the ``Shuffle`` event;
* :func:`end_shuffles` — append ``EndShuffles`` (at least one shuffle is required: without
  one, decryption would reveal each ballot's vector next to its ciphertext);
* :func:`decryption_tally` — the tally trustees decrypt: the encrypted tally whose NH rows
  are the last shuffle's ciphertexts (every shuffle re-checked), or the encrypted tally
  itself for a homomorphic-only election.

The steps that append do so under the store's lock, against the head they checked; a
refused input leaves the record unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viche.crypto.elgamal import Ciphertext
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import RandomSource
from viche.errors import JsonFormatError, Location, PhaseError, ProtocolError
from viche.protocol import codec
from viche.protocol.shuffle import Shuffle, check_shuffle_rows, make_shuffle
from viche.protocol.tally import EncryptedTally, Owned, nh_ciphertexts, nh_indices
from viche.record.events import EventType
from viche.service.archive import ElectionRecord
from viche.service.files import read_bytes

Rows = tuple[tuple[Ciphertext, ...], ...]


@dataclass(frozen=True)
class ShuffleLines:
    """The two lines ``election shuffle`` prints: the shuffle and its owned wrapper."""

    shuffle: bytes
    owned: bytes

    def text(self) -> str:
        return f"{self.shuffle.decode()}\n{self.owned.decode()}\n"


def _tally(state: ElectionRecord) -> EncryptedTally:
    entry = state.record.encrypted_tally
    if entry is None:
        raise PhaseError("the vote is not closed yet: no encrypted tally", where=state.where)
    return EncryptedTally.from_bytes(entry.tally_raw, Location(path=("archive", "encrypted_tally")))


def _checked_rows(state: ElectionRecord) -> Rows:
    """Every Shuffle event of the archive checked in turn; the NH rows after the last."""
    election = state.election
    rows: Rows = nh_ciphertexts(election, _tally(state))
    # The shuffle proofs are sound only over group elements (crypto.shuffle): check the
    # first rows here (one Legendre symbol each); later rows are checked with their proof.
    EncryptedTally(rows).check_members(
        election.group, Location(path=("archive", "encrypted_tally", "NH rows"))
    )
    for entry in state.record.shuffles:
        where = Location(event=entry.height, trustee=entry.owner, path=("shuffle",))
        shuffle = Shuffle.from_bytes(entry.payload_raw, where)
        check_shuffle_rows(election, rows, shuffle, where)
        rows = shuffle.ciphertexts
    return rows


def check_can_shuffle(state: ElectionRecord) -> None:
    if not state.election.has_nh_questions:
        raise PhaseError(
            "this election has no non-homomorphic question: nothing to shuffle",
            where=state.where,
        )
    _tally(state)
    if state.record.end_shuffles is not None or state.record.partial_decryptions:
        raise PhaseError("the shuffles are already closed", where=state.where)


def shuffle(state: ElectionRecord, trustee_id: int, rng: RandomSource) -> ShuffleLines:
    """Trustee ``trustee_id`` shuffles the current NH rows of the record."""
    check_can_shuffle(state)
    state.trustees.trustee(trustee_id, where=Location(path=("--trustee-id",)))
    made = make_shuffle(state.election, _checked_rows(state), rng)
    raw = made.to_bytes()
    owned = codec.to_bytes(Owned(trustee_id, sha256_hex(raw)).to_json())
    return ShuffleLines(raw, owned)


def read_shuffle_lines(path: Path) -> ShuffleLines:
    lines = [ln for ln in read_bytes(path, "shuffle").split(b"\n") if ln]
    if len(lines) != 2:
        raise JsonFormatError(
            f"expected 2 lines (shuffle, owned_shuffle), found {len(lines)}",
            where=Location(file=str(path)),
        )
    return ShuffleLines(lines[0], lines[1])


def add_shuffle(state: ElectionRecord, lines: ShuffleLines) -> int:
    """Check a trustee's shuffle against the current rows and append it; returns the owner."""
    store = state.store
    with store.locked():
        state.refresh()
        check_can_shuffle(state)
        where = Location(path=("shuffle",))
        owned = Owned.from_bytes(lines.owned, where.sub("owned"))
        if owned.payload != sha256_hex(lines.shuffle):
            raise ProtocolError("owned.payload is not the hash of the shuffle line", where=where)
        state.trustees.trustee(owned.owner, where=where.sub("owner"))
        if any(e.owner == owned.owner for e in state.record.shuffles):
            raise ProtocolError(f"trustee {owned.owner} already shuffled", where=where.sub("owner"))
        parsed = Shuffle.from_bytes(lines.shuffle, where)  # canonical form included
        check_shuffle_rows(state.election, _checked_rows(state), parsed, where)
        store.append(
            EventType.SHUFFLE, [lines.shuffle, lines.owned], expected_head=store.head().hash
        )
    state.refresh()
    return owned.owner


def end_shuffles(state: ElectionRecord) -> int:
    """Append ``EndShuffles``; returns the number of shuffles."""
    store = state.store
    with store.locked():
        state.refresh()
        check_can_shuffle(state)
        count = len(state.record.shuffles)
        if not count:
            raise PhaseError(
                "no shuffle yet: at least one trustee must shuffle before the decryption",
                where=state.where,
            )
        store.append(EventType.END_SHUFFLES, [], expected_head=store.head().hash)
    state.refresh()
    return count


def _check_shuffles_closed(state: ElectionRecord) -> None:
    if state.election.has_nh_questions and state.record.end_shuffles is None:
        raise PhaseError(
            "non-homomorphic questions: shuffle the tally and close the shuffles first "
            "('viche tally shuffle', 'viche tally end-shuffles'; served: each trustee's "
            "'viche trustee shuffle', then POST shuffles/end)",
            where=state.where,
        )


def check_can_decrypt(state: ElectionRecord) -> None:
    """Partial decryptions are taken now (cheap: nothing is re-checked): after the close
    (and EndShuffles when questions are tallied through shuffles), before the Result."""
    if state.record.result is not None:
        raise PhaseError("the result is already published", where=state.where)
    _tally(state)
    _check_shuffles_closed(state)


def decryption_tally(state: ElectionRecord) -> EncryptedTally:
    """The tally to decrypt: NH rows from the last (re-checked) shuffle, after EndShuffles."""
    tally = _tally(state)
    if not state.election.has_nh_questions:
        return tally
    _check_shuffles_closed(state)
    merged = list(tally.questions)
    for i, row in zip(nh_indices(state.election), _checked_rows(state), strict=True):
        merged[i] = row
    return EncryptedTally(tuple(merged))
