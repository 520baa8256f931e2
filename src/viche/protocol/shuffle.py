"""The ``shuffle`` message and its proofs (specification 4.17, FORMAT.md §7), and shuffles of
a whole election's non-homomorphic ciphertexts.

JSON (canonical compact, byte-exact with belenios-tool)::

    {"ciphertexts":[[ct…]…],"proofs":[proof…]}
    proof = [[t1,t2,t3,[t41,t42],[t̂…]],[s1,s2,s3,s4,[ŝ…],[s'…]],[c…],[ĉ…]]

with one ciphertext list and one proof per non-homomorphic question, in question order.
The cryptography is :mod:`viche.crypto.shuffle`; this module maps questions to rows and
names them in errors (``where`` = ``… / question 2 / t1``, questions numbered like the
election's, 1-based).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext
from viche.crypto.rng import RandomSource
from viche.crypto.shuffle import ShuffleProof, check_shuffle_proof, shuffle_and_prove
from viche.errors import JsonFormatError, Location, TallyError
from viche.protocol.codec import (
    JsonObject,
    expect_list,
    expect_object,
    loads,
    number,
    require_canonical,
    sub,
    to_bytes,
)
from viche.protocol.election import Election, NonHomomorphicQuestion
from viche.protocol.messages import ciphertexts_from_json, ciphertexts_to_json

__all__ = [
    "Shuffle",
    "ShuffleProof",
    "check_shuffle_rows",
    "make_shuffle",
    "shuffle_proof_from_json",
    "shuffle_proof_to_json",
]

Rows = Sequence[Sequence[Ciphertext]]


# ---------------------------------------------------------------------- codec


def _strs(xs: Iterable[mpz]) -> list[str]:
    return [str(x) for x in xs]


def _numbers(value: object, where: Location, length: int | None = None) -> tuple[mpz, ...]:
    items = expect_list(value, where, length=length)
    return tuple(number(v, sub(where, i)) for i, v in enumerate(items))


def shuffle_proof_to_json(proof: ShuffleProof) -> list[Any]:
    """``[[t1,t2,t3,[t41,t42],[t̂…]],[s1,s2,s3,s4,[ŝ…],[s'…]],[c…],[ĉ…]]``."""
    return [
        [*_strs(proof.t), _strs(proof.t4), _strs(proof.t_hat)],
        [*_strs(proof.s), _strs(proof.s_hat), _strs(proof.s_prime)],
        _strs(proof.commitments),
        _strs(proof.chained),
    ]


def shuffle_proof_from_json(value: object, where: Location) -> ShuffleProof:
    """Parse a proof; numbers must be canonical base-10 strings (lengths are checked
    against the ciphertexts by :func:`~viche.crypto.shuffle.check_shuffle_proof`)."""
    parts = expect_list(value, where, length=4)
    w0, w1 = sub(where, 0), sub(where, 1)
    rand = expect_list(parts[0], w0, length=5)
    resp = expect_list(parts[1], w1, length=6)
    t4 = _numbers(rand[3], sub(w0, 3), length=2)
    return ShuffleProof(
        t=(number(rand[0], sub(w0, 0)), number(rand[1], sub(w0, 1)), number(rand[2], sub(w0, 2))),
        t4=(t4[0], t4[1]),
        t_hat=_numbers(rand[4], sub(w0, 4)),
        s=(
            number(resp[0], sub(w1, 0)),
            number(resp[1], sub(w1, 1)),
            number(resp[2], sub(w1, 2)),
            number(resp[3], sub(w1, 3)),
        ),
        s_hat=_numbers(resp[4], sub(w1, 4)),
        s_prime=_numbers(resp[5], sub(w1, 5)),
        commitments=_numbers(parts[2], sub(where, 2)),
        chained=_numbers(parts[3], sub(where, 3)),
    )


@dataclass(frozen=True)
class Shuffle:
    """``{"ciphertexts","proofs"}``: one re-encrypted, permuted list per NH question."""

    ciphertexts: tuple[tuple[Ciphertext, ...], ...]
    proofs: tuple[ShuffleProof, ...]

    def to_json(self) -> JsonObject:
        return {
            "ciphertexts": [ciphertexts_to_json(list(r)) for r in self.ciphertexts],
            "proofs": [shuffle_proof_to_json(p) for p in self.proofs],
        }

    def to_bytes(self) -> bytes:
        return to_bytes(self.to_json())

    @classmethod
    def from_json(cls, value: object, where: Location = Location(path=("shuffle",))) -> Shuffle:
        obj = expect_object(value, where, ("ciphertexts", "proofs"))
        cw, pw = sub(where, "ciphertexts"), sub(where, "proofs")
        rows = expect_list(obj["ciphertexts"], cw)
        cts = tuple(ciphertexts_from_json(r, sub(cw, i)) for i, r in enumerate(rows))
        items = expect_list(obj["proofs"], pw)
        proofs = tuple(shuffle_proof_from_json(p, sub(pw, i)) for i, p in enumerate(items))
        if len(proofs) != len(cts):
            raise JsonFormatError(
                f"{len(cts)} ciphertext lists but {len(proofs)} proofs", where=where
            )
        return cls(cts, proofs)

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = Location(path=("shuffle",))) -> Shuffle:
        shuffle = cls.from_json(loads(raw, where), where)
        require_canonical(raw, shuffle.to_json(), where, "shuffle")
        return shuffle


# ---------------------------------------------------------------------- election level


def _nh_questions(election: Election) -> list[int]:
    return [i for i, q in enumerate(election.questions) if isinstance(q, NonHomomorphicQuestion)]


def _check_row_count(election: Election, n_rows: int, what: str, where: Location) -> list[int]:
    idx = _nh_questions(election)
    if n_rows != len(idx):
        raise TallyError(f"{n_rows} {what} for {len(idx)} non-homomorphic questions", where=where)
    return idx


def make_shuffle(election: Election, rows: Rows, rng: RandomSource) -> Shuffle:
    """Shuffle and prove every row of ``rows`` (the tally's NH rows, ``nh_ciphertexts``,
    possibly already shuffled by earlier trustees), spec 4.17."""
    _check_row_count(election, len(rows), "ciphertext lists", Location(path=("shuffle",)))
    pk, phi = election.public_key, election.fingerprint
    out = [shuffle_and_prove(pk, phi, row, rng) for row in rows]
    return Shuffle(tuple(c for c, _ in out), tuple(p for _, p in out))


def check_shuffle_rows(
    election: Election,
    before: Rows,
    shuffle: Shuffle,
    where: Location = Location(path=("shuffle",)),
) -> None:
    """Check every proof of ``shuffle`` against ``before`` (the NH rows it shuffles: the
    encrypted tally's, or the previous shuffle's ciphertexts).

    Raises :class:`TallyError` for a wrong number of lists, or the errors of
    :func:`~viche.crypto.shuffle.check_shuffle_proof` with ``where`` naming the question
    (1-based, as in the election) and the component.
    """
    idx = _check_row_count(election, len(shuffle.ciphertexts), "shuffled lists", where)
    _check_row_count(election, len(before), "input lists", where)
    if len(shuffle.proofs) != len(idx):
        raise TallyError(f"{len(shuffle.proofs)} proofs for {len(idx)} lists", where=where)
    pk, phi = election.public_key, election.fingerprint
    for k, i in enumerate(idx):
        check_shuffle_proof(
            pk,
            phi,
            before[k],
            shuffle.ciphertexts[k],
            shuffle.proofs[k],
            where=where.at(question=i + 1),
        )
