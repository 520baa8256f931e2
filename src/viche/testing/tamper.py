"""Systematic tampering of proofs, for failure twins: every field of every proof, altered.

Each variant changes exactly one number by +1 (mod q, so it stays in range and only the
value is wrong) and is labelled so a failing test names the variant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from gmpy2 import mpz

from viche.crypto.schnorr import Proof


def bump(value: mpz, modulus: mpz) -> mpz:
    """``value + 1 mod modulus``: a different value in the same range."""
    return (value + 1) % modulus


def altered_proof(proof: Proof, field: str, q: mpz) -> Proof:
    """``proof`` with ``field`` ("challenge" or "response") moved by one."""
    return replace(proof, **{field: bump(getattr(proof, field), q)})


def altered_proofs(proofs: Sequence[Proof], q: mpz) -> Iterator[tuple[str, tuple[Proof, ...]]]:
    """Every copy of ``proofs`` with one field of one proof altered, with a label."""
    for i, proof in enumerate(proofs):
        for field in ("challenge", "response"):
            changed = list(proofs)
            changed[i] = altered_proof(proof, field, q)
            yield f"proof {i} {field}", tuple(changed)


def out_of_range_proofs(proofs: Sequence[Proof], q: mpz) -> Iterator[tuple[str, tuple[Proof, ...]]]:
    """Copies with one field replaced by ``field + q`` (same value mod q, out of range)."""
    for i, proof in enumerate(proofs):
        for field in ("challenge", "response"):
            changed = list(proofs)
            changed[i] = replace(proof, **{field: getattr(proof, field) + q})
            yield f"proof {i} {field} + q", tuple(changed)
