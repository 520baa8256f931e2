"""The cryptographic content of one answer to one question (specification 4.11), without JSON.

* :class:`HAnswer` answers a homomorphic question: one ciphertext per choice (plus a
  leading blank-flag ciphertext when blank is allowed), a 0/1 proof per ciphertext, an
  overall proof and, when blank is allowed, a blank proof.
* :class:`NHAnswer` answers a non-homomorphic question: one ciphertext of
  ``group_encode(values)`` and a ``raweg`` proof.

Plaintexts follow belenios-tool's ``--ballot`` convention: ``n_answers`` values 0/1, or,
when blank is allowed, ``n_answers + 1`` values with a leading blank flag (``[1, 0, ..., 0]``
is a blank vote, ``[0, x1, ..., xn]`` a normal one).

Hashed prefixes (FORMAT.md section 6): ``S0 = φ|credential`` and
``S = S0|α1,β1,α2,β2,...`` over all the choices of the answer (blank flag included).

Checks raise :class:`BallotShapeError` for wrong lengths and :class:`ProofError` naming the
proof that failed. They do not check that the ciphertext components are group elements:
the caller (parser or verifier) does that before calling them. In ``where``, the ``answer``
field numbers the choices like the spec's m_i: 0 is the blank flag (only when blank is
allowed) and j is answer j (1-based).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gmpy2 import mpz

from viche.crypto.elgamal import (
    Ciphertext,
    PublicKey,
    ct_prod,
    encrypt_element,
    encrypt_exponent,
    group_encode,
)
from viche.crypto.proofs import (
    check_blank,
    check_overall_blank,
    check_raweg,
    icheck,
    iprove,
    prove_blank,
    prove_overall_blank,
    prove_raweg,
)
from viche.crypto.rng import RandomSource
from viche.crypto.schnorr import Proof
from viche.errors import NOWHERE, BallotShapeError, Location, ProofError

_ZERO_ONE = (0, 1)


@dataclass(frozen=True)
class HAnswer:
    """``answer_h``: choices, individual 0/1 proofs, overall proof, optional blank proof."""

    choices: tuple[Ciphertext, ...]
    individual_proofs: tuple[tuple[Proof, Proof], ...]
    overall_proof: tuple[Proof, ...]
    blank_proof: tuple[Proof, Proof] | None


@dataclass(frozen=True)
class NHAnswer:
    """``answer_nh``: one ciphertext of the encoded vector and its ``raweg`` proof."""

    choices: Ciphertext
    proof: Proof


def answer_prefix(prefix_s0: str, choices: Sequence[Ciphertext]) -> str:
    """``S = S0|α1,β1,...,αn,βn`` (spec 4.11.1)."""
    return prefix_s0 + "|" + ",".join(f"{c.alpha_text},{c.beta_text}" for c in choices)


def _choice_label(i: int, blank: bool) -> str:
    return f"choice {i if blank else i + 1}"


def _choice(where: Location, i: int, blank: bool) -> Location:
    """The location of choice ``i`` (0-based) of the answer: ``answer`` numbered like m_i."""
    return where.at(answer=i if blank else i + 1)


def _check_question(n_answers: int, min: int, max: int, where: Location) -> None:
    if n_answers < 1 or not 0 <= min <= max:
        raise BallotShapeError(
            f"question with {n_answers} answers, min {min} and max {max} is not valid",
            where=where,
        )


def validate_h_plaintext(
    plaintext: Sequence[int],
    *,
    n_answers: int,
    min: int,
    max: int,
    blank: bool,
    where: Location = NOWHERE,
) -> None:
    """Raise :class:`BallotShapeError` unless ``plaintext`` is a valid vote for the question."""
    _check_question(n_answers, min, max, where)
    expected = n_answers + 1 if blank else n_answers
    if len(plaintext) != expected:
        flag = " (a leading blank flag, then one per answer)" if blank else ""
        raise BallotShapeError(
            f"plaintext has {len(plaintext)} values, expected {expected}{flag}", where=where
        )
    for i, m in enumerate(plaintext):
        if isinstance(m, bool) or m not in _ZERO_ONE:
            raise BallotShapeError(
                f"{_choice_label(i, blank)} is {m!r}, expected 0 or 1", where=where
            )
    selected = sum(plaintext[1:]) if blank else sum(plaintext)
    if blank and plaintext[0] == 1:
        if selected != 0:
            raise BallotShapeError(
                f"a blank vote must select no answer, but {selected} are selected", where=where
            )
        return
    if not min <= selected <= max:
        raise BallotShapeError(
            f"{selected} answers selected, expected between {min} and {max}", where=where
        )


# ---------------------------------------------------------------------- homomorphic


def make_h_answer(
    pk: PublicKey,
    prefix_s0: str,
    plaintext: Sequence[int],
    *,
    n_answers: int,
    min: int,
    max: int,
    blank: bool,
    rng: RandomSource,
    where: Location = NOWHERE,
) -> HAnswer:
    """Encrypt and prove one homomorphic answer (spec 4.11.1, 4.12, 4.13)."""
    validate_h_plaintext(plaintext, n_answers=n_answers, min=min, max=max, blank=blank, where=where)
    group = pk.group
    q = group.q
    encrypted = [encrypt_exponent(pk, m, rng) for m in plaintext]
    cts = tuple(ct for ct, _ in encrypted)
    rs = [r for _, r in encrypted]
    individual: list[tuple[Proof, Proof]] = []
    for (ct, r), m in zip(encrypted, plaintext, strict=True):
        p0, p1 = iprove(pk, prefix_s0, ct, r, m, _ZERO_ONE, rng)
        individual.append((p0, p1))
    s = answer_prefix(prefix_s0, cts)
    values = range(min, max + 1)
    if not blank:
        total_r = sum(rs, mpz(0)) % q
        overall = iprove(pk, s, ct_prod(group, cts), total_r, sum(plaintext) - min, values, rng)
        return HAnswer(cts, tuple(individual), overall, None)
    ct0, r0 = encrypted[0]
    ct_sigma = ct_prod(group, cts[1:])
    r_sigma = sum(rs[1:], mpz(0)) % q
    is_blank = plaintext[0] == 1
    blank_proof = prove_blank(pk, s, ct0, r0, ct_sigma, r_sigma, blank=is_blank, rng=rng)
    index = 0 if is_blank else sum(plaintext[1:]) - min + 1
    overall = prove_overall_blank(pk, s, ct0, r0, ct_sigma, r_sigma, index, values, rng)
    return HAnswer(cts, tuple(individual), overall, blank_proof)


def check_h_answer(
    pk: PublicKey,
    prefix_s0: str,
    answer: HAnswer,
    *,
    n_answers: int,
    min: int,
    max: int,
    blank: bool,
    where: Location = NOWHERE,
) -> None:
    """Check the shape and every proof of a homomorphic answer.

    Raises :class:`BallotShapeError` for a wrong number of choices or proofs and
    :class:`ProofError` with ``where`` naming the choice (``answer``) and ``individual proof``,
    ``overall proof`` or ``blank proof`` for the first proof that fails.
    """
    _check_question(n_answers, min, max, where)
    expected = n_answers + 1 if blank else n_answers
    n_values = max - min + 1
    if len(answer.choices) != expected:
        raise BallotShapeError(
            f"{len(answer.choices)} choices, expected {expected}", where=where.sub("choices")
        )
    if len(answer.individual_proofs) != expected:
        raise BallotShapeError(
            f"{len(answer.individual_proofs)} individual proofs, expected {expected}",
            where=where.sub("individual proofs"),
        )
    for i, pair in enumerate(answer.individual_proofs):
        if len(pair) != 2:
            raise BallotShapeError(
                f"individual proof has {len(pair)} parts, expected 2",
                where=_choice(where, i, blank).sub("individual proof"),
            )
    n_overall = n_values + 1 if blank else n_values
    if len(answer.overall_proof) != n_overall:
        raise BallotShapeError(
            f"overall proof has {len(answer.overall_proof)} parts, expected {n_overall}",
            where=where.sub("overall proof"),
        )
    if blank and (answer.blank_proof is None or len(answer.blank_proof) != 2):
        raise BallotShapeError(
            "blank is allowed: a blank proof of 2 parts is required",
            where=where.sub("blank proof"),
        )
    if not blank and answer.blank_proof is not None:
        raise BallotShapeError(
            "blank is not allowed: the answer must not have a blank proof",
            where=where.sub("blank proof"),
        )

    for i, (ct, pair) in enumerate(zip(answer.choices, answer.individual_proofs, strict=True)):
        if not icheck(pk, prefix_s0, ct, pair, _ZERO_ONE):
            raise ProofError(
                "individual proof that the choice is 0 or 1 does not verify",
                where=_choice(where, i, blank).sub("individual proof"),
            )
    group = pk.group
    s = answer_prefix(prefix_s0, answer.choices)
    values = range(min, max + 1)
    if not blank:
        if not icheck(pk, s, ct_prod(group, answer.choices), answer.overall_proof, values):
            raise ProofError(
                f"overall proof that between {min} and {max} answers are selected does not verify",
                where=where.sub("overall proof"),
            )
        return
    assert answer.blank_proof is not None  # checked above
    ct0 = answer.choices[0]
    ct_sigma = ct_prod(group, answer.choices[1:])
    if not check_blank(pk, s, ct0, ct_sigma, answer.blank_proof):
        raise ProofError(
            "blank proof (blank flag is 0 or no answer is selected) does not verify",
            where=where.sub("blank proof"),
        )
    if not check_overall_blank(pk, s, ct0, ct_sigma, answer.overall_proof, values):
        raise ProofError(
            f"overall proof (blank vote, or between {min} and {max} answers) does not verify",
            where=where.sub("overall proof"),
        )


# ---------------------------------------------------------------------- non-homomorphic


def make_nh_answer(
    pk: PublicKey, prefix_s0: str, values: Sequence[int], rng: RandomSource
) -> NHAnswer:
    """Encrypt ``group_encode(values)`` and prove knowledge of the randomness (spec 4.11.2).

    The ``raweg`` proof hashes ``raweg|S0|y,α,β|A`` (S0 = ``φ|credential``, as belenios-tool
    does; see FORMAT.md section 6).
    """
    xi = group_encode(pk.group, values)
    ct, r = encrypt_element(pk, xi, rng)
    return NHAnswer(ct, prove_raweg(pk, prefix_s0, ct, r, rng))


def check_nh_answer(
    pk: PublicKey, prefix_s0: str, answer: NHAnswer, *, where: Location = NOWHERE
) -> None:
    """Raise :class:`ProofError` unless the ``raweg`` proof of the answer verifies."""
    if not check_raweg(pk, prefix_s0, answer.choices, answer.proof):
        raise ProofError(
            "proof of knowledge of the encryption randomness (raweg) does not verify",
            where=where.sub("proof"),
        )
