"""The encrypted tally of the counted ballots, accumulated chunk by chunk.

:func:`~viche.protocol.tally.compute_encrypted_tally` takes the whole list of counted
ballots. The streaming verifier never holds that list: workers turn a chunk of counted
ballots into a :class:`TallyPart` (:func:`tally_part`) and the main process folds the parts
into a :class:`TallyAccumulator`, in any order.

Why the fold gives exactly what ``compute_encrypted_tally(election, counted)`` gives:

* a homomorphic row is a product of ``choice^weight`` over the counted ballots, and the
  group is commutative: the product of per-chunk products is the same element;
* a non-homomorphic row is the list of the ballots' ciphertexts sorted by ``(alpha, beta)``:
  concatenating in any order then sorting gives the same list;
* ``compute_encrypted_tally`` raises the first :class:`~viche.errors.TallyError` met in its
  loop, questions outermost, counted ballots (archive order) inside. Each ballot is computed
  on its own (``compute_encrypted_tally(election, [ballot])``), which raises that ballot's
  error at its first failing question q_b. The error the whole computation raises is the one
  of the ballot with the smallest ``(q_b, position)``: at the smallest failing question
  q* = min q_b, every ballot before it in archive order passes q* (its own first failure
  is at or after q*), so the loop reaches the first ballot failing q*. The accumulator keeps
  that minimum.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from viche.crypto.elgamal import Ciphertext, ct_mul, ct_one
from viche.crypto.hashing import b64_sha256
from viche.errors import TallyError, VicheError
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.election import Election, HomomorphicQuestion, NonHomomorphicQuestion
from viche.protocol.tally import EncryptedTally, compute_encrypted_tally

#: ``(index, raw, hex_hash, credential, weight)``: one counted ballot sent to a worker.
CountedItem = tuple[int, bytes, str, str, int]

_ANSWER = re.compile(r"/ answer (\d+)$")


def empty_rows(election: Election) -> list[list[Ciphertext]]:
    """One empty list per non-homomorphic question, the neutral element per choice of a
    homomorphic one."""
    return [
        [ct_one()] * q.n_choices if isinstance(q, HomomorphicQuestion) else []
        for q in election.questions
    ]


@dataclass(frozen=True)
class TallyPart:
    """What a chunk of counted ballots contributes (picklable).

    ``rows[i]`` is the product of the chunk's choices for a homomorphic question, the
    chunk's ciphertexts (unsorted) for a non-homomorphic one. ``error`` is the chunk's
    smallest ``(question, index, message, where)``, question 0-based.
    """

    count: int
    weight: int
    rows: tuple[tuple[Ciphertext, ...], ...]
    error: tuple[int, int, str, str] | None


def tally_part(election: Election, chunk: Sequence[CountedItem]) -> TallyPart:
    """The contribution of ``chunk`` (the same computation as
    :func:`compute_encrypted_tally`, one ballot at a time)."""
    group = election.group
    nh = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
    rows = empty_rows(election)
    count = weight = 0
    error: tuple[int, int, str, str] | None = None
    for index, raw, hex_hash, credential, w in chunk:
        try:
            ballot = Ballot.from_bytes(raw)
        except VicheError:
            continue  # not a candidate (the in-memory verifier skips it the same way)
        checked = CheckedBallot(ballot, raw, b64_sha256(raw), hex_hash, credential, w)
        count += 1
        weight += w
        try:
            mine = compute_encrypted_tally(election, [checked])
        except TallyError as exc:
            m = _ANSWER.search(exc.where)
            key = (int(m.group(1)) - 1 if m else -1, index, exc.message, exc.where)
            if error is None or key[:2] < error[:2]:
                error = key
            continue
        for i, row in enumerate(mine.questions):
            if nh[i]:
                rows[i].extend(row)
            else:
                rows[i] = [ct_mul(group, a, b) for a, b in zip(rows[i], row, strict=True)]
    return TallyPart(count, weight, tuple(tuple(r) for r in rows), error)


class TallyAccumulator:
    """Folds :class:`TallyPart` values; memory is one tally (plus the NH ciphertexts, which
    the tally itself lists)."""

    def __init__(self, election: Election) -> None:
        self.election = election
        self.nh = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
        self.rows = empty_rows(election)
        self.count = 0
        self.weight = 0
        self.error: tuple[int, int, str, str] | None = None

    def add(self, part: TallyPart) -> None:
        group = self.election.group
        self.count += part.count
        self.weight += part.weight
        if part.error is not None and (self.error is None or part.error[:2] < self.error[:2]):
            self.error = part.error
        for i, row in enumerate(part.rows):
            if self.nh[i]:
                self.rows[i].extend(row)
            else:
                self.rows[i] = [ct_mul(group, a, b) for a, b in zip(self.rows[i], row, strict=True)]

    def result(self) -> tuple[EncryptedTally, int, int]:
        """``(tally, num_tallied, total_weight)``; raises the :class:`TallyError` that
        ``compute_encrypted_tally`` would raise on the same ballots."""
        if self.error is not None:
            _q, _i, message, where = self.error
            raise TallyError(message, where=where)
        rows = tuple(
            tuple(sorted(row, key=lambda c: (c.alpha, c.beta))) if self.nh[i] else tuple(row)
            for i, row in enumerate(self.rows)
        )
        return EncryptedTally(rows), self.count, self.weight
