"""Exponential ElGamal over a :class:`~viche.crypto.group.Group` (specification 4.11).

A ciphertext of the small integer m under the election key y is ``(g^r, y^r g^m)``; the
product of two ciphertexts encrypts the sum of their plaintexts, which is what makes the
homomorphic tally work. Non-homomorphic answers encrypt a group element ξ directly as
``(g^r, y^r ξ)`` (spec 4.11.2), with ξ built by :func:`group_encode`.

Hot paths go through :meth:`Group.powg` (g^e) and :meth:`PublicKey.pow` (y^e) only, so that
fixed-base tables plugged in behind those two methods speed up everything at once.

Membership of ciphertext components in the group is *not* checked here: values that come
from outside are checked by their parser or by the verifier (``Group.check_element``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from gmpy2 import mpz

from viche.crypto.fastexp import pow_fixed
from viche.crypto.group import Group
from viche.crypto.rng import RandomSource, random_zq
from viche.errors import NOWHERE, BallotShapeError, DecryptionError, Location, UnsupportedError


@dataclass(frozen=True)
class Ciphertext:
    """An ElGamal ciphertext ``{"alpha", "beta"}``."""

    alpha: mpz
    beta: mpz

    # The decimal forms, written once: a ballot check writes each component three times (the
    # canonical form, the answer's prefix S, its proof's hashed string), at about 2 µs each.
    @cached_property
    def alpha_text(self) -> str:
        """``str(alpha)``."""
        return str(self.alpha)

    @cached_property
    def beta_text(self) -> str:
        """``str(beta)``."""
        return str(self.beta)

    @classmethod
    def read(cls, alpha: mpz, beta: mpz, alpha_text: str, beta_text: str) -> Ciphertext:
        """The ciphertext a parser read from the canonical decimal forms ``alpha_text`` and
        ``beta_text`` (``str(alpha) == alpha_text``), which are kept as its texts."""
        ct = cls(alpha, beta)
        vars(ct).update(alpha_text=alpha_text, beta_text=beta_text)  # the cached properties
        return ct


@dataclass(frozen=True, eq=False)
class PublicKey:
    """The election public key y of a group."""

    group: Group
    y: mpz

    def pow(self, e: mpz | int) -> mpz:
        """``y^e mod p``; through a fixed-base table of y (built once per process after a
        few uses, :func:`viche.crypto.fastexp.pow_fixed`)."""
        return pow_fixed(self.y, e, self.group.p, self.group.q.bit_length())

    def __repr__(self) -> str:
        return f"PublicKey({self.group.name}, y={str(self.y)[:12]}...)"


def check_ciphertext(group: Group, ct: Ciphertext, where: Location = NOWHERE) -> Ciphertext:
    """Raise :class:`~viche.errors.GroupMembershipError` unless alpha and beta are group
    elements; the proofs of :mod:`viche.crypto.proofs` are sound only after this check."""
    group.check_element(ct.alpha, where=where.sub("alpha"))
    group.check_element(ct.beta, where=where.sub("beta"))
    return ct


# ---------------------------------------------------------------------- encryption


def encrypt_exponent(pk: PublicKey, m: int, rng: RandomSource) -> tuple[Ciphertext, mpz]:
    """``(g^r, y^r g^m)`` with a fresh r; returns r as well (the provers need it)."""
    group = pk.group
    r = random_zq(rng, group.q)
    return Ciphertext(group.powg(r), group.mul(pk.pow(r), group.powg(m % group.q))), r


def encrypt_element(pk: PublicKey, element: mpz, rng: RandomSource) -> tuple[Ciphertext, mpz]:
    """``(g^r, y^r * element)``: encryption of a group element (non-homomorphic answers)."""
    group = pk.group
    r = random_zq(rng, group.q)
    return Ciphertext(group.powg(r), group.mul(pk.pow(r), element)), r


def decrypt_element(group: Group, x: mpz, ct: Ciphertext) -> mpz:
    """``beta / alpha^x`` with the full secret key x (tests and single-key tooling)."""
    return group.div(ct.beta, group.pow(ct.alpha, x))


# ---------------------------------------------------------------------- homomorphism


def ct_one() -> Ciphertext:
    """The neutral ciphertext ``(1, 1)``: an encryption of 0 with r = 0."""
    return Ciphertext(mpz(1), mpz(1))


def ct_mul(group: Group, a: Ciphertext, b: Ciphertext) -> Ciphertext:
    """Componentwise product: encrypts the sum of the plaintexts."""
    return Ciphertext(group.mul(a.alpha, b.alpha), group.mul(a.beta, b.beta))


def ct_pow(group: Group, c: Ciphertext, k: mpz | int) -> Ciphertext:
    """Componentwise power: encrypts k times the plaintext (weights)."""
    return Ciphertext(group.pow(c.alpha, k), group.pow(c.beta, k))


def ct_prod(group: Group, cts: Iterable[Ciphertext]) -> Ciphertext:
    """Product of ciphertexts; the product of none is :func:`ct_one`."""
    alpha = mpz(1)
    beta = mpz(1)
    p = group.p
    for c in cts:
        alpha = alpha * c.alpha % p
        beta = beta * c.beta % p
    return Ciphertext(alpha, beta)


# ---------------------------------------------------------------------- discrete log

#: Below this bound a linear scan beats building a baby-step table.
_LINEAR_LIMIT = 64


@lru_cache(maxsize=8)
def _baby_steps(group: Group, m: int) -> dict[mpz, int]:
    """``{g^j: j for 0 <= j < m}`` (cached per group and step size)."""
    table: dict[mpz, int] = {}
    acc = mpz(1)
    for j in range(m):
        table.setdefault(acc, j)
        acc = acc * group.g % group.p
    return table


def dlog_small(group: Group, value: mpz, bound: int, where: Location = NOWHERE) -> int:
    """The m in ``[0, bound]`` with ``g^m = value``, by baby-step giant-step.

    Raises :class:`DecryptionError` when there is none (a wrong decryption or a bound too
    small). Cost: about ``2 sqrt(bound)`` multiplications; the baby-step table is cached.
    """
    if bound < 0:
        raise DecryptionError(f"negative bound {bound} for a discrete logarithm", where=where)
    p = group.p
    value = mpz(value) % p
    if bound < _LINEAR_LIMIT:
        acc = mpz(1)
        for m in range(bound + 1):
            if acc == value:
                return m
            acc = acc * group.g % p
    else:
        step = math.isqrt(bound) + 1  # step^2 > bound
        table = _baby_steps(group, step)
        giant = group.inv(group.powg(step))  # g^-step
        acc = value
        for i in range(step + 1):
            j = table.get(acc)
            if j is not None:
                m = i * step + j
                if m <= bound:
                    return m
                break
            acc = acc * giant % p
    raise DecryptionError(
        f"no discrete logarithm in [0, {bound}]: the decryption is wrong or the bound too small",
        where=where,
    )


# ---------------------------------------------------------------------- embedding (4.11.2)


def group_encode(group: Group, values: Sequence[int], where: Location = NOWHERE) -> mpz:
    """``ξ = ((v1 2^κ + v2) 2^κ + ... + vn) 2^p + ε`` with the smallest ε making ξ a member.

    Needs ``group.embedding`` (only RFC-3526-2048 has one). Raises
    :class:`UnsupportedError` for a group without embedding and :class:`BallotShapeError`
    for a value that does not fit in κ bits, a vector too long for the group, or when no ε
    of ``padding`` bits works.
    """
    emb = group.embedding
    if emb is None:
        raise UnsupportedError(
            f"group {group.name} has no embedding for non-homomorphic answers", where=where
        )
    kappa, pad = emb.bits_per_int, emb.padding
    acc = mpz(0)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not 0 <= v < (1 << kappa):
            raise BallotShapeError(
                f"value {v!r} at position {i + 1} does not fit in {kappa} bits", where=where
            )
        acc = (acc << kappa) | v
    base = acc << pad
    if base + (1 << pad) > group.p:
        raise BallotShapeError(
            f"{len(values)} values of {kappa} bits do not fit in group {group.name}", where=where
        )
    for eps in range(1 << pad):
        xi = base + eps
        if group.is_element(xi):
            return xi
    raise BallotShapeError(
        f"no {pad}-bit padding makes the encoded vector a group element", where=where
    )


def group_decode(group: Group, x: mpz, n: int, where: Location = NOWHERE) -> list[int]:
    """Inverse of :func:`group_encode`: the n values of κ bits packed in x.

    Raises :class:`DecryptionError` when x holds more than n values' worth of bits.
    """
    emb = group.embedding
    if emb is None:
        raise UnsupportedError(
            f"group {group.name} has no embedding for non-homomorphic answers", where=where
        )
    if n < 0:
        raise DecryptionError(f"negative number of values {n}", where=where)
    kappa, pad = emb.bits_per_int, emb.padding
    packed = mpz(x) >> pad
    if x < 0 or packed >> (kappa * n) != 0:
        raise DecryptionError(
            f"decrypted element does not encode {n} values of {kappa} bits", where=where
        )
    mask = (1 << kappa) - 1
    out = [int((packed >> (kappa * (n - 1 - i))) & mask) for i in range(n)]
    return out
