"""The encrypted tally of the counted ballots, accumulated chunk by chunk.

:func:`~viche.protocol.tally.compute_encrypted_tally` takes the whole list of counted
ballots. The streaming verifier never holds that list:

* in pass 1, each worker returns with its chunk's outcomes a :class:`ChunkTally`
  (:func:`chunk_tally`) over the chunk's *candidate* ballots; the main process folds them
  into a :class:`RunningTally`, which learns which candidates are superseded by a later
  ballot of the same credential;
* the product of the superseded ballots (or, as a fallback, of the counted ones) is
  computed by chunks of ballots read again (:func:`tally_part`, folded into a
  :class:`TallyAccumulator`) and divided out.

Why the fold gives exactly what ``compute_encrypted_tally(election, counted)`` gives:

* a homomorphic row is a product of ``choice^weight`` over the counted ballots, and the
  group is commutative: the product of per-chunk products is the same element;
* a non-homomorphic row is the list of the ballots' ciphertexts sorted by ``(alpha, beta)``:
  concatenating in any order then sorting gives the same list;
* dividing: P = Π(counted)·Π(superseded) in Z_p^*, so Π(counted) = P·Π(superseded)^-1
  whenever every component of Π(superseded) is non-zero mod p (checked; otherwise the
  caller multiplies the counted ballots instead);
* ``compute_encrypted_tally`` raises the first :class:`~viche.errors.TallyError` met in its
  loop, questions outermost, counted ballots (archive order) inside. Each ballot is computed
  on its own (``compute_encrypted_tally(election, [ballot])``), which raises that ballot's
  error at its first failing question q_b. The error the whole computation raises is the one
  of the ballot with the smallest ``(q_b, position)``: at the smallest failing question
  q* = min q_b, every ballot before it in archive order passes q* (its own first failure
  is at or after q*), so the loop reaches the first ballot failing q*. The accumulators keep
  that minimum (the running one over the ballots still counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import gmpy2

from viche.crypto.elgamal import Ciphertext, ct_mul, ct_one
from viche.crypto.hashing import b64_sha256
from viche.errors import Location, TallyError, VicheError
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.election import Election, HomomorphicQuestion, NonHomomorphicQuestion
from viche.protocol.tally import EncryptedTally, compute_encrypted_tally

#: ``(index, raw, hex_hash, credential, weight)``: one counted ballot sent to a worker.
CountedItem = tuple[int, bytes, str, str, int]


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
    error: tuple[int, int, str, Location] | None


Error = tuple[int, int, str, Location]  # (question 0-based, ballot index, message, where)


Rows = tuple[tuple[Ciphertext, ...], ...]


def _single(election: Election, index: int, checked: CheckedBallot) -> Rows | Error:
    """One ballot's rows (``choice^weight`` per homomorphic choice, its ciphertext per NH
    question), or its first :class:`TallyError` as an :data:`Error`."""
    try:
        return compute_encrypted_tally(election, [checked]).questions
    except TallyError as exc:
        q = exc.where.question
        return (q - 1 if q is not None else -1, index, exc.message, exc.where)


def _is_error(one: Rows | Error) -> bool:
    return bool(one) and isinstance(one[0], int)


def tally_part(election: Election, chunk: Sequence[CountedItem]) -> TallyPart:
    """The contribution of ``chunk`` (the same computation as
    :func:`compute_encrypted_tally`, one ballot at a time)."""
    group = election.group
    nh = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
    rows = empty_rows(election)
    count = weight = 0
    error: Error | None = None
    for index, raw, hex_hash, credential, w in chunk:
        try:
            ballot = Ballot.from_bytes(raw)
        except VicheError:
            continue  # not a candidate (the in-memory verifier skips it the same way)
        checked = CheckedBallot(ballot, raw, b64_sha256(raw), hex_hash, credential, w)
        count += 1
        weight += w
        one = _single(election, index, checked)
        if _is_error(one):
            key = cast(Error, one)
            if error is None or key[:2] < error[:2]:
                error = key
            continue
        for i, row in enumerate(cast(Rows, one)):
            if nh[i]:
                rows[i].extend(row)
            else:
                rows[i] = [ct_mul(group, a, b) for a, b in zip(rows[i], row, strict=True)]
    return TallyPart(count, weight, tuple(tuple(r) for r in rows), error)


@dataclass(frozen=True)
class ChunkTally:
    """What the candidate ballots of a pass-1 chunk bring (picklable): the product of the
    homomorphic rows of those without a tally error (NH rows left empty), the NH
    ciphertexts of each of them by ballot index, and the error of each of the others."""

    product: tuple[tuple[Ciphertext, ...], ...]
    nh: tuple[tuple[int, tuple[tuple[Ciphertext, ...], ...]], ...]
    errors: tuple[Error, ...]


def chunk_tally(election: Election, candidates: Sequence[tuple[int, CheckedBallot]]) -> ChunkTally:
    group = election.group
    nh_q = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
    rows = empty_rows(election)
    nh: list[tuple[int, tuple[tuple[Ciphertext, ...], ...]]] = []
    errors: list[Error] = []
    for index, checked in candidates:
        one = _single(election, index, checked)
        if _is_error(one):
            errors.append(cast(Error, one))
            continue
        mine: list[tuple[Ciphertext, ...]] = []
        for i, row in enumerate(cast(Rows, one)):
            if nh_q[i]:
                mine.append(row)
            else:
                rows[i] = [ct_mul(group, a, b) for a, b in zip(rows[i], row, strict=True)]
        if any(nh_q):
            nh.append((index, tuple(mine)))
    return ChunkTally(tuple(tuple(r) for r in rows), tuple(nh), tuple(errors))


class RunningTally:
    """Pass 1's tally: the product of every candidate ballot read so far, the NH
    ciphertexts and tally errors of the candidates still last of their credential, and
    the superseded candidates (whose product pass 2 divides out).

    Memory: one tally, the NH ciphertexts of the counted ballots (the tally lists them
    anyway), the errors of the counted ballots, and ``(hash, credential, weight)`` per
    superseded ballot (revotes).
    """

    def __init__(self, election: Election) -> None:
        self.election = election
        self.nh_q = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
        self.product = empty_rows(election)
        self.nh: dict[int, tuple[tuple[Ciphertext, ...], ...]] = {}
        self.errors: dict[int, Error] = {}
        self.superseded: dict[int, tuple[str, str, int]] = {}

    def add(self, part: ChunkTally) -> None:
        group = self.election.group
        for i, row in enumerate(part.product):
            if not self.nh_q[i]:
                self.product[i] = [
                    ct_mul(group, a, b) for a, b in zip(self.product[i], row, strict=True)
                ]
        self.nh.update(part.nh)
        self.errors.update((e[1], e) for e in part.errors)

    def supersede(self, index: int, hex_hash: str, credential: str, weight: int) -> None:
        """Ballot ``index`` is no longer the last of its credential."""
        self.superseded[index] = (hex_hash, credential, weight)
        self.nh.pop(index, None)
        self.errors.pop(index, None)

    def result(self, divide: TallyPart | None) -> EncryptedTally | None:
        """The tally of the counted ballots, given the product of the superseded ones
        (:func:`tally_part`; None when there are none); raises the first
        :class:`TallyError` among the counted ballots; None when a superseded product is
        not invertible (a component ≡ 0 mod p: then recompute from the counted ballots)."""
        if self.errors:
            _q, _i, message, where = min(self.errors.values(), key=lambda e: e[:2])
            raise TallyError(message, where=where)
        group = self.election.group
        p = group.p
        rows: list[tuple[Ciphertext, ...]] = []
        for i, row in enumerate(self.product):
            if self.nh_q[i]:
                k = sum(self.nh_q[:i])  # position among the NH questions
                cts = [c for v in self.nh.values() for c in v[k]]
                rows.append(tuple(sorted(cts, key=lambda c: (c.alpha, c.beta))))
                continue
            if divide is not None:
                out: list[Ciphertext] = []
                for ct, d in zip(row, divide.rows[i], strict=True):
                    if d.alpha % p == 0 or d.beta % p == 0:
                        return None
                    out.append(
                        Ciphertext(
                            ct.alpha * gmpy2.invert(d.alpha, p) % p,
                            ct.beta * gmpy2.invert(d.beta, p) % p,
                        )
                    )
                row = out  # noqa: PLW2901 (the divided row replaces the product)
            rows.append(tuple(row))
        return EncryptedTally(tuple(rows))


class TallyAccumulator:
    """Folds :class:`TallyPart` values; memory is one tally (plus the NH ciphertexts, which
    the tally itself lists)."""

    def __init__(self, election: Election) -> None:
        self.election = election
        self.nh = [isinstance(q, NonHomomorphicQuestion) for q in election.questions]
        self.rows = empty_rows(election)
        self.count = 0
        self.weight = 0
        self.error: tuple[int, int, str, Location] | None = None

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
