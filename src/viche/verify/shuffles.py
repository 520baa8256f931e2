"""Verifier step for the shuffles of non-homomorphic questions (spec 3.4 step 3, 3.5.2 step 4,
4.17).

* :func:`check_shuffle_events` — every Shuffle event: a known trustee id that has not shuffled
  before, a parsable ``shuffle``, and every proof checked against the previous NH rows (the
  encrypted tally's for the first one); returns the tally to decrypt, whose NH rows are the
  last shuffle's ciphertexts; also EndShuffles present before any decryption of an
  election with NH questions, and no shuffle at all without them.

Failures are handed to a callback so that the verifier reports every one of them and goes on;
a shuffle whose proof fails still feeds the next one (the trustees decrypted what was
published), so one altered shuffle gives one failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext
from viche.errors import Location, ProtocolError, VicheError
from viche.protocol.election import Election
from viche.protocol.shuffle import Shuffle, check_shuffle_rows
from viche.protocol.tally import nh_indices
from viche.protocol.trustees import Trustees
from viche.record import OwnedEntry, RecordEvent, ResultEntry, TallyEntry

Cts = list[list[tuple[mpz, mpz]]]
#: ``fail(error, trustee_id_or_None)``
FailCallback = Callable[[VicheError, int | None], None]


class RecordTail(Protocol):
    """What follows the ballots in a record: a :class:`~viche.record.entries.Record` has
    these attributes, and so does the streaming verifier's summary of one."""

    @property
    def encrypted_tally(self) -> TallyEntry | None: ...
    @property
    def shuffles(self) -> Sequence[OwnedEntry]: ...
    @property
    def end_shuffles(self) -> RecordEvent | None: ...
    @property
    def partial_decryptions(self) -> Sequence[OwnedEntry]: ...
    @property
    def result(self) -> ResultEntry | None: ...


def check_shuffle_events(
    election: Election,
    trustees: Trustees | None,
    record: RecordTail,
    tally: Cts,
    fail: FailCallback,
) -> Cts:
    """Check every Shuffle event of ``record`` against the published ``tally`` and return
    the tally to decrypt (NH rows replaced by the last shuffle's ciphertexts)."""
    idx = nh_indices(election)
    if not idx:
        for entry in record.shuffles:
            fail(
                ProtocolError(
                    "shuffle in an election without non-homomorphic questions",
                    where=Location(event=entry.height, trustee=entry.owner),
                ),
                entry.owner,
            )
        return tally
    n_trustees = len(trustees.flat()) if trustees is not None else None
    rows: tuple[tuple[Ciphertext, ...], ...] = tuple(
        tuple(Ciphertext(a, b) for a, b in tally[i]) for i in idx
    )
    seen: set[int] = set()
    for entry in record.shuffles:
        owner = entry.owner
        where = Location(event=entry.height, trustee=owner, path=("shuffle",))
        try:
            if n_trustees is not None and not 1 <= owner <= n_trustees:
                raise ProtocolError(f"unknown trustee id {owner}", where=where)
            if owner in seen:
                raise ProtocolError("second shuffle by the same trustee", where=where)
            seen.add(owner)
            shuffle = Shuffle.from_bytes(entry.payload_raw, where)
        except VicheError as exc:
            fail(exc, owner)
            continue
        try:
            check_shuffle_rows(election, rows, shuffle, where)
        except VicheError as exc:
            fail(exc, owner)
        if len(shuffle.ciphertexts) == len(rows) and all(
            len(a) == len(b) for a, b in zip(shuffle.ciphertexts, rows, strict=True)
        ):
            rows = shuffle.ciphertexts
    later = [e.height for e in record.partial_decryptions]
    later += [record.result.height] if record.result is not None else []
    if record.end_shuffles is None and later:
        height = later[0]
        fail(
            ProtocolError(
                "non-homomorphic ciphertexts decrypted without EndShuffles",
                where=Location(event=height),
            ),
            None,
        )
    out = [list(r) for r in tally]
    for k, i in enumerate(idx):
        out[i] = [(c.alpha, c.beta) for c in rows[k]]
    return out
