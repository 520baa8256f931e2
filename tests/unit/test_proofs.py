"""Interval, blank, decryption and raweg proofs: completeness, and a failure twin for every
altered field of every proof (and of the statement)."""

from __future__ import annotations

import pytest
from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext, PublicKey, ct_mul, encrypt_element, encrypt_exponent
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.proofs import (
    check_blank,
    check_decryption,
    check_overall_blank,
    check_raweg,
    icheck,
    iprove,
    prove_blank,
    prove_decryption,
    prove_overall_blank,
    prove_raweg,
)
from viche.crypto.rng import SeededRandom, random_zq
from viche.crypto.schnorr import Proof
from viche.errors import BallotShapeError
from viche.testing.tamper import altered_proof, altered_proofs, bump, out_of_range_proofs

GROUPS = [BELENIOS_2048, RFC_3526_2048]
PREFIX = "phi|12345"


def make_pk(group: Group, rng: SeededRandom) -> PublicKey:
    return PublicKey(group, group.powg(random_zq(rng, group.q)))


def altered_cts(group: Group, ct: Ciphertext) -> list[Ciphertext]:
    return [
        Ciphertext(group.mul(ct.alpha, group.g), ct.beta),
        Ciphertext(ct.alpha, group.mul(ct.beta, group.g)),
    ]


# ---------------------------------------------------------------------- interval


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_iprove_every_index(group: Group, rng: SeededRandom) -> None:
    pk = make_pk(group, rng)
    values = [2, 3, 4, 5]
    for index, m in enumerate(values):
        ct, r = encrypt_exponent(pk, m, rng)
        proofs = iprove(pk, PREFIX, ct, r, index, values, rng)
        assert len(proofs) == len(values)
        assert icheck(pk, PREFIX, ct, proofs, values)
        assert not icheck(pk, PREFIX, ct, proofs, [3, 4, 5, 6])


def test_icheck_fails_for_every_altered_field(rng: SeededRandom) -> None:
    group = BELENIOS_2048
    pk = make_pk(group, rng)
    ct, r = encrypt_exponent(pk, 1, rng)
    proofs = iprove(pk, PREFIX, ct, r, 1, [0, 1], rng)
    assert icheck(pk, PREFIX, ct, proofs, [0, 1])
    for label, bad in [*altered_proofs(proofs, group.q), *out_of_range_proofs(proofs, group.q)]:
        assert not icheck(pk, PREFIX, ct, bad, [0, 1]), label
    for bad_ct in altered_cts(group, ct):
        assert not icheck(pk, PREFIX, bad_ct, proofs, [0, 1])
    assert not icheck(pk, PREFIX + "x", ct, proofs, [0, 1])
    assert not icheck(pk, PREFIX, ct, proofs, [0, 1], tag="bproof1")
    assert not icheck(PublicKey(group, group.mul(pk.y, group.g)), PREFIX, ct, proofs, [0, 1])
    assert not icheck(pk, PREFIX, ct, proofs[:1], [0, 1])
    assert not icheck(pk, PREFIX, ct, (*proofs, proofs[0]), [0, 1])
    assert not icheck(pk, PREFIX, ct, (), [])


def test_icheck_rejects_a_value_outside_the_interval(rng: SeededRandom) -> None:
    """Soundness twin: proving with a wrong index (the value is 2, not in [0, 1]) fails."""
    pk = make_pk(BELENIOS_2048, rng)
    ct, r = encrypt_exponent(pk, 2, rng)
    for index in (0, 1):
        proofs = iprove(pk, PREFIX, ct, r, index, [0, 1], rng)
        assert not icheck(pk, PREFIX, ct, proofs, [0, 1])
    good = iprove(pk, PREFIX, ct, r, 2, [0, 1, 2], rng)
    assert icheck(pk, PREFIX, ct, good, [0, 1, 2])


def test_iprove_index_out_of_range(rng: SeededRandom) -> None:
    pk = make_pk(BELENIOS_2048, rng)
    ct, r = encrypt_exponent(pk, 0, rng)
    with pytest.raises(BallotShapeError):
        iprove(pk, PREFIX, ct, r, 2, [0, 1], rng)


def test_iprove_hash_string_uses_the_tag(rng: SeededRandom) -> None:
    pk = make_pk(BELENIOS_2048, rng)
    ct, r = encrypt_exponent(pk, 0, rng)
    proofs = iprove(pk, PREFIX, ct, r, 0, [0, 1], rng, tag="other")
    assert icheck(pk, PREFIX, ct, proofs, [0, 1], tag="other")
    assert not icheck(pk, PREFIX, ct, proofs, [0, 1])


# ---------------------------------------------------------------------- blank


def flag_and_sigma(
    pk: PublicKey, m0: int, ms: list[int], rng: SeededRandom
) -> tuple[Ciphertext, mpz, Ciphertext, mpz]:
    group = pk.group
    ct0, r0 = encrypt_exponent(pk, m0, rng)
    ct_sigma, r_sigma = Ciphertext(mpz(1), mpz(1)), mpz(0)
    for m in ms:
        ct, r = encrypt_exponent(pk, m, rng)
        ct_sigma, r_sigma = ct_mul(group, ct_sigma, ct), (r_sigma + r) % group.q
    return ct0, r0, ct_sigma, r_sigma


@pytest.mark.parametrize(("m0", "ms"), [(0, [0, 1, 0]), (1, [0, 0, 0]), (0, [0, 0, 0])])
def test_blank_proof_complete_and_tamper(m0: int, ms: list[int], rng: SeededRandom) -> None:
    group = RFC_3526_2048 if m0 else BELENIOS_2048
    pk = make_pk(group, rng)
    ct0, r0, cts, rs = flag_and_sigma(pk, m0, ms, rng)
    proofs = prove_blank(pk, PREFIX, ct0, r0, cts, rs, blank=bool(m0), rng=rng)
    assert check_blank(pk, PREFIX, ct0, cts, proofs)
    for label, bad in [*altered_proofs(proofs, group.q), *out_of_range_proofs(proofs, group.q)]:
        assert not check_blank(pk, PREFIX, ct0, cts, bad), label
    for bad_ct in altered_cts(group, ct0):
        assert not check_blank(pk, PREFIX, bad_ct, cts, proofs)
    for bad_ct in altered_cts(group, cts):
        assert not check_blank(pk, PREFIX, ct0, bad_ct, proofs)
    assert not check_blank(pk, PREFIX + "|1,2", ct0, cts, proofs)
    assert not check_blank(pk, PREFIX, cts, ct0, proofs)
    assert not check_blank(pk, PREFIX, ct0, cts, proofs[:1])


def test_blank_proof_unsound_when_both_sides_false(rng: SeededRandom) -> None:
    """m0 = 1 and mΣ = 1 (a blank vote that also selects): neither side holds."""
    pk = make_pk(BELENIOS_2048, rng)
    ct0, r0, cts, rs = flag_and_sigma(pk, 1, [1, 0], rng)
    for blank in (False, True):
        proofs = prove_blank(pk, PREFIX, ct0, r0, cts, rs, blank=blank, rng=rng)
        assert not check_blank(pk, PREFIX, ct0, cts, proofs)


@pytest.mark.parametrize(
    ("m0", "ms", "index"), [(0, [1, 1, 0], 2), (0, [1, 0, 0], 1), (1, [0, 0, 0], 0)]
)
def test_overall_blank_complete_and_tamper(
    m0: int, ms: list[int], index: int, rng: SeededRandom
) -> None:
    group = BELENIOS_2048
    pk = make_pk(group, rng)
    values = [1, 2, 3]
    ct0, r0, cts, rs = flag_and_sigma(pk, m0, ms, rng)
    proofs = prove_overall_blank(pk, PREFIX, ct0, r0, cts, rs, index, values, rng)
    assert len(proofs) == len(values) + 1
    assert check_overall_blank(pk, PREFIX, ct0, cts, proofs, values)
    for label, bad in [*altered_proofs(proofs, group.q), *out_of_range_proofs(proofs, group.q)]:
        assert not check_overall_blank(pk, PREFIX, ct0, cts, bad, values), label
    for bad_ct in altered_cts(group, ct0):
        assert not check_overall_blank(pk, PREFIX, bad_ct, cts, proofs, values)
    for bad_ct in altered_cts(group, cts):
        assert not check_overall_blank(pk, PREFIX, ct0, bad_ct, proofs, values)
    assert not check_overall_blank(pk, PREFIX + "x", ct0, cts, proofs, values)
    assert not check_overall_blank(pk, PREFIX, ct0, cts, proofs, [2, 3, 4])
    assert not check_overall_blank(pk, PREFIX, ct0, cts, proofs[:-1], values)


def test_overall_blank_unsound_outside_interval(rng: SeededRandom) -> None:
    """Non-blank vote selecting 0 answers when min is 1: no branch holds."""
    pk = make_pk(BELENIOS_2048, rng)
    ct0, r0, cts, rs = flag_and_sigma(pk, 0, [0, 0], rng)
    for index in range(3):
        proofs = prove_overall_blank(pk, PREFIX, ct0, r0, cts, rs, index, [1, 2], rng)
        assert not check_overall_blank(pk, PREFIX, ct0, cts, proofs, [1, 2])


# ---------------------------------------------------------------------- decryption


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_decryption_proof(group: Group, rng: SeededRandom) -> None:
    x = random_zq(rng, group.q)
    X = group.powg(x)
    alpha = group.powg(random_zq(rng, group.q))
    factor, proof = prove_decryption(group, x, "fingerprint", alpha, rng)
    assert factor == group.pow(alpha, x)
    assert check_decryption(group, X, "fingerprint", alpha, factor, proof)
    for label, (bad,) in [
        *altered_proofs([proof], group.q),
        *out_of_range_proofs([proof], group.q),
    ]:
        assert not check_decryption(group, X, "fingerprint", alpha, factor, bad), label
    assert not check_decryption(group, X, "fingerprinT", alpha, factor, proof)
    assert not check_decryption(group, group.mul(X, group.g), "fingerprint", alpha, factor, proof)
    assert not check_decryption(group, X, "fingerprint", group.mul(alpha, group.g), factor, proof)
    assert not check_decryption(group, X, "fingerprint", alpha, group.mul(factor, group.g), proof)


# ---------------------------------------------------------------------- raweg


def test_raweg_proof(rng: SeededRandom) -> None:
    group = RFC_3526_2048
    pk = make_pk(group, rng)
    ct, r = encrypt_element(pk, mpz(4), rng)
    proof = prove_raweg(pk, PREFIX, ct, r, rng)
    assert check_raweg(pk, PREFIX, ct, proof)
    for label, (bad,) in [
        *altered_proofs([proof], group.q),
        *out_of_range_proofs([proof], group.q),
    ]:
        assert not check_raweg(pk, PREFIX, ct, bad), label
    for bad_ct in altered_cts(group, ct):
        assert not check_raweg(pk, PREFIX, bad_ct, proof)
    assert not check_raweg(pk, PREFIX + "x", ct, proof)
    assert not check_raweg(PublicKey(group, group.mul(pk.y, group.g)), PREFIX, ct, proof)


def test_tamper_helpers_change_exactly_one_field() -> None:
    q = mpz(11)
    proof = Proof(mpz(10), mpz(3))
    assert bump(mpz(10), q) == 0
    assert altered_proof(proof, "challenge", q) == Proof(mpz(0), mpz(3))
    variants = dict(altered_proofs([proof, proof], q))
    assert len(variants) == 4
    assert variants["proof 1 response"] == (proof, Proof(mpz(10), mpz(4)))
    assert dict(out_of_range_proofs([proof], q))["proof 0 challenge + q"] == (
        Proof(mpz(21), mpz(3)),
    )
