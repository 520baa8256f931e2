"""Algebraic laws of the crypto core, property-tested with Hypothesis.

A law that does not depend on the size of the group runs many examples in the small test
group ``TEST_128`` (tests/support/groups.py); those about the two groups of the
specification (their embedding, both groups side by side) run few, 2048-bit arithmetic
being slow."""

from __future__ import annotations

from dataclasses import replace

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from support.groups import TEST_128
from viche.crypto.answers import check_h_answer, make_h_answer
from viche.crypto.credentials import ALPHABET, check_credential, generate_credential
from viche.crypto.elgamal import (
    PublicKey,
    ct_mul,
    ct_pow,
    ct_prod,
    decrypt_element,
    dlog_small,
    encrypt_element,
    encrypt_exponent,
    group_decode,
    group_encode,
)
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
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.errors import CredentialFormatError, DecryptionError, ProofError

FEW = settings(max_examples=25, deadline=None)
MANY = settings(max_examples=200, deadline=None)
G = TEST_128
Q = int(G.q)

seeds = st.integers(min_value=0, max_value=2**32)
exponents = st.integers(min_value=1, max_value=Q - 1)
groups = st.sampled_from([BELENIOS_2048, RFC_3526_2048])
fields = st.sampled_from(["challenge", "response"])
nonzero_deltas = st.integers(min_value=1, max_value=Q - 1)


def keypair(group: Group, x: int) -> tuple[mpz, PublicKey]:
    secret = mpz(x) % group.q or mpz(1)
    return secret, PublicKey(group, group.powg(secret))


def alter(
    proofs: tuple[Proof, ...], index: int, field: str, delta: int, q: mpz
) -> tuple[Proof, ...]:
    changed = list(proofs)
    i = index % len(proofs)
    changed[i] = replace(changed[i], **{field: (getattr(changed[i], field) + delta) % q})
    return tuple(changed)


# ---------------------------------------------------------------------- ElGamal


@FEW
@given(groups, exponents, st.integers(0, 10_000), seeds)
def test_decrypt_inverts_encrypt(group: Group, x: int, m: int, seed: int) -> None:
    secret, pk = keypair(group, x)
    ct, r = encrypt_exponent(pk, m, SeededRandom(seed))
    assert ct.alpha == group.powg(r)
    assert dlog_small(group, decrypt_element(group, secret, ct), 10_000) == m


@MANY
@given(exponents, st.integers(0, 500), st.integers(0, 500), st.integers(0, 20), seeds)
def test_homomorphism(x: int, a: int, b: int, k: int, seed: int) -> None:
    rng = SeededRandom(seed)
    secret, pk = keypair(G, x)
    ca, _ = encrypt_exponent(pk, a, rng)
    cb, _ = encrypt_exponent(pk, b, rng)
    assert dlog_small(G, decrypt_element(G, secret, ct_mul(G, ca, cb)), 1000) == a + b
    assert dlog_small(G, decrypt_element(G, secret, ct_pow(G, ca, k)), 10_000) == a * k
    assert ct_prod(G, [ca, cb]) == ct_mul(G, ca, cb)
    assert ct_mul(G, ca, cb) == ct_mul(G, cb, ca)


@FEW
@given(st.lists(st.integers(0, 255), max_size=40), exponents, seeds)
def test_group_encode_roundtrip(values: list[int], x: int, seed: int) -> None:
    group = RFC_3526_2048
    xi = group_encode(group, values)
    assert group.is_element(xi)
    assert group_decode(group, xi, len(values)) == values
    secret, pk = keypair(group, x)
    ct, _ = encrypt_element(pk, xi, SeededRandom(seed))
    assert group_decode(group, decrypt_element(group, secret, ct), len(values)) == values


@MANY
@given(st.integers(0, 10**7), st.integers(0, 10**7))
def test_dlog_small(m: int, bound: int) -> None:
    value = G.powg(m)
    if m <= bound:
        assert dlog_small(G, value, bound) == m
    else:
        with pytest.raises(DecryptionError):
            dlog_small(G, value, bound)


# ---------------------------------------------------------------------- proofs


@MANY
@given(exponents, st.integers(0, 5), st.integers(0, 4), st.data(), seeds)
def test_interval_proof_complete_and_sound(
    x: int, lo: int, width: int, data: st.DataObject, seed: int
) -> None:
    rng = SeededRandom(seed)
    _, pk = keypair(G, x)
    values = list(range(lo, lo + width + 1))
    index = data.draw(st.integers(0, width))
    ct, r = encrypt_exponent(pk, values[index], rng)
    proofs = iprove(pk, "S", ct, r, index, values, rng)
    assert icheck(pk, "S", ct, proofs, values)
    bad = alter(
        proofs, data.draw(st.integers(0, width)), data.draw(fields), data.draw(nonzero_deltas), G.q
    )
    assert not icheck(pk, "S", ct, bad, values)
    outside, r2 = encrypt_exponent(pk, lo + width + 1, rng)
    forged = iprove(pk, "S", outside, r2, index, values, rng)
    assert not icheck(pk, "S", outside, forged, values)


@MANY
@given(exponents, st.booleans(), st.integers(0, 3), st.data(), seeds)
def test_blank_proofs_complete_and_sound(
    x: int, blank: bool, selected: int, data: st.DataObject, seed: int
) -> None:
    rng = SeededRandom(seed)
    _, pk = keypair(G, x)
    ct0, r0 = encrypt_exponent(pk, int(blank), rng)
    m_sigma = 0 if blank else max(selected, 1)
    cts, rs = encrypt_exponent(pk, m_sigma, rng)
    values = [1, 2, 3]
    bproof = prove_blank(pk, "S", ct0, r0, cts, rs, blank=blank, rng=rng)
    assert check_blank(pk, "S", ct0, cts, bproof)
    index = 0 if blank else m_sigma
    overall = prove_overall_blank(pk, "S", ct0, r0, cts, rs, index, values, rng)
    assert check_overall_blank(pk, "S", ct0, cts, overall, values)
    field, delta = data.draw(fields), data.draw(nonzero_deltas)
    assert not check_blank(
        pk, "S", ct0, cts, alter(bproof, data.draw(st.integers(0, 1)), field, delta, G.q)
    )
    bad = alter(overall, data.draw(st.integers(0, 3)), field, delta, G.q)
    assert not check_overall_blank(pk, "S", ct0, cts, bad, values)


@FEW
@given(groups, exponents, exponents, st.data(), seeds)
def test_decryption_proof_complete_and_sound(
    group: Group, x: int, a: int, data: st.DataObject, seed: int
) -> None:
    rng = SeededRandom(seed)
    secret, pk = keypair(group, x)
    alpha = group.powg(a)
    factor, proof = prove_decryption(group, secret, "phi", alpha, rng)
    assert check_decryption(group, pk.y, "phi", alpha, factor, proof)
    (bad,) = alter((proof,), 0, data.draw(fields), data.draw(nonzero_deltas), group.q)
    assert not check_decryption(group, pk.y, "phi", alpha, factor, bad)
    wrong_factor = group.mul(factor, group.powg(data.draw(nonzero_deltas)))
    assert not check_decryption(group, pk.y, "phi", alpha, wrong_factor, proof)


@FEW
@given(exponents, st.data(), seeds)
def test_raweg_complete_and_sound(x: int, data: st.DataObject, seed: int) -> None:
    rng = SeededRandom(seed)
    group = RFC_3526_2048
    _, pk = keypair(group, x)
    ct, r = encrypt_element(pk, group_encode(group, [1, 2]), rng)
    proof = prove_raweg(pk, "S0", ct, r, rng)
    assert check_raweg(pk, "S0", ct, proof)
    delta = data.draw(st.integers(1, 2**256))
    (bad,) = alter((proof,), 0, data.draw(fields), delta, group.q)
    assert not check_raweg(pk, "S0", ct, bad)


@settings(max_examples=50, deadline=None)
@given(exponents, st.integers(1, 3), st.data(), seeds)
def test_h_answer_complete_and_sound(x: int, n: int, data: st.DataObject, seed: int) -> None:
    rng = SeededRandom(seed)
    _, pk = keypair(G, x)
    blank = data.draw(st.booleans())
    lo = data.draw(st.integers(0, n))
    hi = data.draw(st.integers(lo, n))
    chosen = data.draw(
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda v: lo <= sum(v) <= hi)
    )
    plaintext = [int(v) for v in chosen]
    if blank:
        plaintext = [1] + [0] * n if data.draw(st.booleans()) else [0, *plaintext]
    spec = {"n_answers": n, "min": lo, "max": hi, "blank": blank}
    answer = make_h_answer(pk, "S0", plaintext, rng=rng, **spec)  # type: ignore[arg-type]
    check_h_answer(pk, "S0", answer, **spec)  # type: ignore[arg-type]
    bad = replace(
        answer,
        overall_proof=alter(
            answer.overall_proof,
            data.draw(st.integers(0, 10)),
            data.draw(fields),
            data.draw(nonzero_deltas),
            G.q,
        ),
    )
    with pytest.raises(ProofError):
        check_h_answer(pk, "S0", bad, **spec)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- credentials


@FEW
@given(seeds, st.integers(0, 13), st.sampled_from(ALPHABET))
def test_credential_checksum_detects_substitutions(seed: int, position: int, char: str) -> None:
    cred = generate_credential(SeededRandom(seed))
    assert check_credential(cred) == cred
    chars = cred.replace("-", "")
    old = ALPHABET.index(chars[position])
    new = ALPHABET.index(char)
    changed = chars[:position] + char + chars[position + 1 :]
    if new == old:
        assert check_credential(changed) == cred
    elif (new - old) % 53 == 0:
        # the one blind spot of a mod-53 checksum over base 58 digits: a digit moved by 53
        assert check_credential(changed) != cred
    else:
        with pytest.raises(CredentialFormatError, match="checksum"):
            check_credential(changed)
