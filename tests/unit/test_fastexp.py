"""Every fast exponentiation routine agrees with gmpy2.powmod (Hypothesis)."""

from __future__ import annotations

import gmpy2
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto import fastexp
from viche.crypto.fastexp import (
    FixedBaseTable,
    clear_table_cache,
    fixed_base_table,
    multi_pow,
    pow_fixed,
    pow_many,
)
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048

P = BELENIOS_2048.p
Q_BITS = BELENIOS_2048.q.bit_length()
G_TABLE = FixedBaseTable(BELENIOS_2048.g, P, Q_BITS)
SMALL_P = mpz(1_000_003)

exps256 = st.integers(min_value=0, max_value=(1 << Q_BITS) - 1)
residues = st.integers(min_value=0, max_value=int(P) - 1).map(mpz)


@settings(max_examples=60, deadline=None)
@given(exps256)
def test_table_matches_powmod(e: int) -> None:
    assert G_TABLE.pow(e) == gmpy2.powmod(BELENIOS_2048.g, e, P)
    assert G_TABLE.pow(mpz(e)) == gmpy2.powmod(BELENIOS_2048.g, e, P)


@settings(max_examples=40, deadline=None)
@given(exps256, residues)
def test_table_pow_mul(e: int, factor: mpz) -> None:
    assert G_TABLE.pow_mul(e, factor) == factor * gmpy2.powmod(BELENIOS_2048.g, e, P) % P


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1 << Q_BITS, max_value=1 << (2 * Q_BITS)))
def test_table_falls_back_above_its_size(e: int) -> None:
    assert G_TABLE.pow(e) == gmpy2.powmod(BELENIOS_2048.g, e, P)
    assert G_TABLE.pow_mul(e, mpz(7)) == 7 * gmpy2.powmod(BELENIOS_2048.g, e, P) % P


def test_table_edge_exponents() -> None:
    for e in (0, 1, 255, 256, (1 << Q_BITS) - 1, BELENIOS_2048.q):
        assert G_TABLE.pow(e) == gmpy2.powmod(BELENIOS_2048.g, e, P)
    assert G_TABLE.pow(BELENIOS_2048.q) == 1  # g has order q


def test_table_rejects_negative_exponent_and_bad_sizes() -> None:
    with pytest.raises(ValueError, match="negative"):
        G_TABLE.pow(-1)
    with pytest.raises(ValueError, match="negative"):
        G_TABLE.pow_mul(-1, mpz(2))
    with pytest.raises(ValueError, match="modulus"):
        FixedBaseTable(2, 1, 8)
    with pytest.raises(ValueError, match="max_bits"):
        FixedBaseTable(2, 7, 0)


def test_table_for_the_large_exponents_of_rfc3526() -> None:
    grp = RFC_3526_2048
    table = fixed_base_table(grp.g, grp.p, grp.q.bit_length())
    for e in (grp.q - 1, grp.q // 3, mpz(12345)):
        assert table.pow(e) == gmpy2.powmod(grp.g, e, grp.p)
    assert fixed_base_table(grp.g, grp.p, grp.q.bit_length()) is table  # cached


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 1_000_002), st.integers(0, 1 << 40), st.integers(1, 40))
def test_small_modulus_tables(base: int, e: int, bits: int) -> None:
    table = FixedBaseTable(base, SMALL_P, bits)
    assert table.pow(e) == pow(base, e, int(SMALL_P))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(residues, exps256), min_size=0, max_size=4))
def test_multi_pow_matches_product_of_powmods(pairs: list[tuple[mpz, int]]) -> None:
    expected = mpz(1)
    for b, e in pairs:
        expected = expected * gmpy2.powmod(b, e, P) % P
    assert multi_pow(pairs, P) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1_000_002), st.integers(0, 1 << 70)), min_size=0, max_size=5
    )
)
def test_multi_pow_small_modulus(pairs: list[tuple[int, int]]) -> None:
    expected = 1
    for b, e in pairs:
        expected = expected * pow(b, e, int(SMALL_P)) % int(SMALL_P)
    assert multi_pow([(mpz(b), e) for b, e in pairs], SMALL_P) == expected


def test_multi_pow_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        multi_pow([(mpz(2), 3), (mpz(3), -1)], P)


@settings(max_examples=40, deadline=None)
@given(residues, st.lists(exps256, min_size=0, max_size=6))
def test_pow_many_matches_powmod(base: mpz, exps: list[int]) -> None:
    assert pow_many(base, exps, P) == [gmpy2.powmod(base, e, P) for e in exps]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1_000_002), st.lists(st.integers(0, 1 << 50), min_size=2, max_size=6))
def test_pow_many_small_modulus(base: int, exps: list[int]) -> None:
    assert pow_many(mpz(base), exps, SMALL_P) == [pow(base, e, int(SMALL_P)) for e in exps]


def test_pow_many_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        pow_many(mpz(2), [1, 2, -3], P)


def test_pow_fixed_builds_a_table_after_repeated_use() -> None:
    clear_table_cache()
    base = mpz(5)
    key = (base, P, Q_BITS)
    for i in range(fastexp._BUILD_AFTER + 3):
        e = mpz(3) ** 100 + i
        assert pow_fixed(base, e, P, Q_BITS) == gmpy2.powmod(base, e, P)
    assert key in fastexp._cache
    # out-of-range exponents still agree (fallback path)
    assert pow_fixed(base, -5, P, Q_BITS) == gmpy2.powmod(base, -5, P)
    assert pow_fixed(base, mpz(1) << 300, P, Q_BITS) == gmpy2.powmod(base, 1 << 300, P)
    clear_table_cache()
    assert key not in fastexp._cache


def test_group_powg_uses_and_agrees_with_the_table() -> None:
    grp = BELENIOS_2048
    for i in range(fastexp._BUILD_AFTER + 5):
        e = grp.q - 1 - i
        assert grp.powg(e) == gmpy2.powmod(grp.g, e, grp.p)
    assert grp.powg(-1) == gmpy2.invert(grp.g, grp.p)
    assert (grp.g, grp.p, Q_BITS) in fastexp._cache


def test_pow_memo_answers_inside_the_block_only() -> None:
    from viche.crypto.fastexp import pow_memo, precomputed_powers

    base, e = mpz(12345), mpz(678)
    true = gmpy2.powmod(base, e, P)
    marker = (true + 1) % P  # a deliberately different value shows the memo is consulted
    with precomputed_powers(P, {(base, e): marker}):
        assert pow_memo(base, e, P) == marker
        assert pow_memo(base, e + 1, P) == gmpy2.powmod(base, e + 1, P)  # not in the memo
        assert pow_memo(base, e, SMALL_P) == gmpy2.powmod(base, e, SMALL_P)  # other modulus
    assert pow_memo(base, e, P) == true


def test_group_pow_and_membership_consult_the_memo() -> None:
    from viche.crypto.fastexp import precomputed_powers

    grp = BELENIOS_2048
    x = grp.powg(mpz(99))
    assert grp.is_element(x)
    with precomputed_powers(grp.p, {(x, grp.q): mpz(2), (x, mpz(5)): mpz(7)}):
        assert not grp.is_element(x)
        assert grp.pow(x, 5) == 7
    assert grp.is_element(x) and grp.pow(x, 5) == gmpy2.powmod(x, 5, grp.p)


def test_pow_fixed_many_agrees_and_builds_the_table_after_repeated_use() -> None:
    from viche.crypto.fastexp import pow_fixed_many

    clear_table_cache()
    base = mpz(7)
    key = (base, P, Q_BITS)
    exps = [mpz(3) ** 100 + i for i in range(fastexp._BUILD_AFTER // 2)]
    expected = [gmpy2.powmod(base, e, P) for e in exps]
    assert pow_fixed_many(base, exps, P, Q_BITS) == expected
    assert key not in fastexp._cache  # not used often enough yet
    assert pow_fixed_many(base, exps, P, Q_BITS) == expected
    assert key in fastexp._cache
    assert pow_fixed_many(base, [*exps, -2, 1 << 300], P, Q_BITS) == [
        *expected,
        gmpy2.powmod(base, -2, P),
        gmpy2.powmod(base, 1 << 300, P),
    ]
    clear_table_cache()


def test_pow_fixed_consults_the_memo() -> None:
    from viche.crypto.fastexp import precomputed_powers

    grp = BELENIOS_2048
    e = mpz(12345)
    with precomputed_powers(grp.p, {(grp.g, e): mpz(3)}):
        assert grp.powg(e) == 3  # a deliberately wrong value shows the memo is consulted
        assert grp.powg(e + 1) == gmpy2.powmod(grp.g, e + 1, grp.p)
    assert grp.powg(e) == gmpy2.powmod(grp.g, e, grp.p)
