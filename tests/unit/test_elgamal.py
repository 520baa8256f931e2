"""ElGamal encryption, homomorphism, small discrete logs and the NH embedding."""

from __future__ import annotations

import pickle

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto.elgamal import (
    Ciphertext,
    PublicKey,
    check_ciphertext,
    ct_mul,
    ct_one,
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
from viche.crypto.rng import SeededRandom, random_zq
from viche.errors import (
    BallotShapeError,
    DecryptionError,
    GroupMembershipError,
    Location,
    UnsupportedError,
)

GROUPS = [BELENIOS_2048, RFC_3526_2048]


def keypair(group: Group, rng: SeededRandom) -> tuple[mpz, PublicKey]:
    x = random_zq(rng, group.q)
    return x, PublicKey(group, group.powg(x))


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_encrypt_exponent_decrypts_to_g_m(group: Group, rng: SeededRandom) -> None:
    x, pk = keypair(group, rng)
    ct, r = encrypt_exponent(pk, 7, rng)
    assert ct.alpha == group.powg(r)
    assert group.is_element(ct.alpha) and group.is_element(ct.beta)
    assert decrypt_element(group, x, ct) == group.powg(7)
    assert dlog_small(group, decrypt_element(group, x, ct), 10) == 7


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_decrypting_with_another_key_fails(group: Group, rng: SeededRandom) -> None:
    x, pk = keypair(group, rng)
    ct, _ = encrypt_exponent(pk, 7, rng)
    wrong = decrypt_element(group, (x + 1) % group.q, ct)
    assert wrong != group.powg(7)
    with pytest.raises(DecryptionError, match="no discrete logarithm"):
        dlog_small(group, wrong, 1000, where=Location(path=("q1",)))


def test_pow_is_y_to_the_e(rng: SeededRandom) -> None:
    x, pk = keypair(BELENIOS_2048, rng)
    assert pk.pow(5) == BELENIOS_2048.powg(5 * x % BELENIOS_2048.q)
    assert pk.pow(5) != BELENIOS_2048.powg(5)
    assert "PublicKey(BELENIOS-2048" in repr(pk)


def test_encrypt_element_roundtrip(rng: SeededRandom) -> None:
    group = RFC_3526_2048
    x, pk = keypair(group, rng)
    xi = group_encode(group, [1, 2, 3])
    ct, r = encrypt_element(pk, xi, rng)
    assert ct.alpha == group.powg(r)
    assert decrypt_element(group, x, ct) == xi
    assert decrypt_element(group, (x + 1) % group.q, ct) != xi


def test_homomorphism_and_neutral(rng: SeededRandom) -> None:
    group = BELENIOS_2048
    x, pk = keypair(group, rng)
    a, _ = encrypt_exponent(pk, 3, rng)
    b, _ = encrypt_exponent(pk, 4, rng)
    assert dlog_small(group, decrypt_element(group, x, ct_mul(group, a, b)), 20) == 7
    assert dlog_small(group, decrypt_element(group, x, ct_pow(group, a, 5)), 20) == 15
    assert dlog_small(group, decrypt_element(group, x, ct_prod(group, [a, b, a])), 20) == 10
    assert ct_prod(group, []) == ct_one() == Ciphertext(mpz(1), mpz(1))
    assert ct_mul(group, a, ct_one()) == a
    assert ct_mul(group, a, b) != ct_mul(group, a, a)


@pytest.mark.parametrize("m", [0, 1, 63, 64, 65, 1000, 99_999, 100_000])
def test_dlog_small_finds_every_value_up_to_the_bound(m: int) -> None:
    assert dlog_small(BELENIOS_2048, BELENIOS_2048.powg(m), 100_000) == m


def test_dlog_small_large_bound() -> None:
    group = RFC_3526_2048
    assert dlog_small(group, group.powg(9_999_991), 10_000_000) == 9_999_991


@pytest.mark.parametrize(("m", "bound"), [(11, 10), (64, 63), (100_001, 100_000), (5, 0)])
def test_dlog_small_beyond_bound_raises(m: int, bound: int) -> None:
    with pytest.raises(DecryptionError) as info:
        dlog_small(
            BELENIOS_2048,
            BELENIOS_2048.powg(m),
            bound,
            where=Location(question=2, answer=1),
        )
    assert str(info.value.where) == "question 2 / answer 1"


def test_dlog_small_negative_bound_raises() -> None:
    with pytest.raises(DecryptionError, match="negative"):
        dlog_small(BELENIOS_2048, mpz(1), -1)


def test_group_encode_layout_and_smallest_padding() -> None:
    group = RFC_3526_2048
    xi = group_encode(group, [1, 2, 255])
    base = ((1 << 16) + (2 << 8) + 255) << 8
    assert base <= xi < base + 256
    assert group.is_element(xi)
    assert not any(group.is_element(mpz(e)) for e in range(base, xi))
    assert group_decode(group, xi, 3) == [1, 2, 255]


def test_group_encode_empty_and_zero_vectors() -> None:
    group = RFC_3526_2048
    assert group_decode(group, group_encode(group, []), 0) == []
    xi = group_encode(group, [0, 0])
    assert group.is_element(xi)
    assert group_decode(group, xi, 2) == [0, 0]


@pytest.mark.parametrize("values", [[256], [0, -1], [True]])
def test_group_encode_rejects_values_out_of_range(values: list[int]) -> None:
    with pytest.raises(BallotShapeError, match="does not fit"):
        group_encode(RFC_3526_2048, values, where=Location(question=1))


def test_group_encode_rejects_too_long_vectors() -> None:
    with pytest.raises(BallotShapeError, match="do not fit in group"):
        group_encode(RFC_3526_2048, [1] * 256)


def test_embedding_needs_a_group_with_embedding() -> None:
    with pytest.raises(UnsupportedError):
        group_encode(BELENIOS_2048, [1])
    with pytest.raises(UnsupportedError):
        group_decode(BELENIOS_2048, mpz(256), 1)


def test_group_decode_rejects_too_many_bits() -> None:
    group = RFC_3526_2048
    xi = group_encode(group, [1, 2, 3])
    assert group_decode(group, xi, 3) == [1, 2, 3]
    with pytest.raises(DecryptionError, match="does not encode 2 values"):
        group_decode(group, xi, 2)
    with pytest.raises(DecryptionError):
        group_decode(group, xi, -1)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_check_ciphertext_names_the_bad_component(group: Group, rng: SeededRandom) -> None:
    _, pk = keypair(group, rng)
    ct, _ = encrypt_exponent(pk, 1, rng)
    assert check_ciphertext(group, ct, Location(answer=1)) is ct
    outside = group.p - 1  # -1 has order 2: not in the subgroup of odd prime order q
    for bad, part in [
        (Ciphertext(outside, ct.beta), "alpha"),
        (Ciphertext(ct.alpha, mpz(0)), "beta"),
        (Ciphertext(ct.alpha, group.p + ct.beta), "beta"),
    ]:
        with pytest.raises(GroupMembershipError) as info:
            check_ciphertext(group, bad, Location(answer=1))
        assert info.value.where.answer == 1
        assert str(info.value.where) == f"answer 1 / {part}"


@settings(max_examples=50, deadline=None)
@given(alpha=st.integers(0, 1 << 2100), beta=st.integers(0, 1 << 2100))
def test_ciphertext_texts_are_the_decimal_forms(alpha: int, beta: int) -> None:
    """The cached decimal forms equal str() of the components, and pickling or comparing a
    ciphertext ignores them."""
    ct = Ciphertext(mpz(alpha), mpz(beta))
    assert (ct.alpha_text, ct.beta_text) == (str(alpha), str(beta))
    assert ct.alpha_text is ct.alpha_text  # written once
    assert ct == Ciphertext(mpz(alpha), mpz(beta))
    assert pickle.loads(pickle.dumps(ct)) == ct
