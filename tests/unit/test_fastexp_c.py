"""The C engine (viche.crypto._fastexp) computes exactly what gmpy2.powmod computes, with
either kernel (GMP's mpn; AVX-512 IFMA where the CPU has it), refuses bad input cleanly,
and leaves every ballot verdict unchanged (Hypothesis; the reference archives)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import gmpy2
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import IN_CI
from viche.crypto import fastexp
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.errors import VicheError
from viche.protocol.ballot import check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify.prefill import check_ballot_fast

GROUPS = [BELENIOS_2048, RFC_3526_2048]
HAVE_IFMA = bool(getattr(fastexp._C_BUILT, "HAVE_IFMA", 0))
KERNELS = ["mpn", "ifma"] if HAVE_IFMA else ["mpn"]


def _odd_moduli() -> st.SearchStrategy[int]:
    """Odd moduli from 3 to 3000 bits, prime or not, and the two group primes."""
    return st.one_of(
        st.sampled_from([3, 5, 7, 1_000_003, (1 << 64) + 13, (1 << 127) - 1]),
        st.sampled_from([int(g.p) for g in GROUPS]),
        st.integers(min_value=2, max_value=3000)
        .flatmap(lambda bits: st.integers(min_value=max(3, 1 << (bits - 1)), max_value=1 << bits))
        .map(lambda m: m | 1),
    )


def _base(m: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([0, 1, m - 1, 2 % m]), st.integers(0, m - 1))


def _exponent(q: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from([0, 1, q - 1, q, q + 1, 2 * q]),
        st.integers(0, (1 << 256) - 1),
        st.integers(0, (1 << 2100) - 1),
        st.integers(0, 70),
    )


Q = int(BELENIOS_2048.q)


def _modulus(c: ModuleType, m: int, kernel: str) -> Any:
    """``Modulus(m, kernel)``; the IFMA kernel takes only moduli of at most 2078 bits."""
    if kernel == "ifma" and m.bit_length() > 2078:
        with pytest.raises(ValueError, match="2078 bits"):
            c.Modulus(m, "ifma")
        return c.Modulus(m, "mpn")
    return c.Modulus(m, kernel)


def test_the_c_engine_is_loaded_in_ci(fastexp_c: ModuleType) -> None:
    """In CI (scripts/test installs gcc and libgmp-dev) the extension must be built and, unless
    VICHE_FASTEXP says otherwise, in use."""
    assert fastexp_c.__name__ == "viche.crypto._fastexp"
    assert fastexp_c.gmp_version.count(".") >= 1
    assert fastexp_c.MPZ_READ_IN_PLACE in {0, 1}
    if IN_CI and fastexp._ENV_CHOICE not in {"pure", "mpn"}:
        assert fastexp.engine().startswith("C, ")


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_pow_many_equals_powmod(fastexp_c: ModuleType, kernel: str, data: st.DataObject) -> None:
    m = data.draw(_odd_moduli())
    base = data.draw(_base(m))
    exps = data.draw(st.lists(_exponent(Q), min_size=0, max_size=6))
    ctx = _modulus(fastexp_c, m, kernel)
    got = ctx.pow_many(mpz(base), exps)
    assert got == [gmpy2.powmod(base, e, m) for e in exps]
    assert all(isinstance(v, type(mpz(0))) for v in got)
    assert fastexp_c.pow_many(base, [mpz(e) for e in exps], m) == got  # ints or mpz, same


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mpz_and_int_inputs_are_read_alike(
    fastexp_c: ModuleType, kernel: str, data: st.DataObject
) -> None:
    """A gmpy2.mpz is read in place (MPZ_READ_IN_PLACE), an int through ``__index__``: the
    same values, and the same refusals (negative, at or above the modulus, above the
    exponent limits), for bases, exponents, table exponents and factors; 0 and limb
    boundaries included."""
    m = data.draw(_odd_moduli())
    ctx = _modulus(fastexp_c, m, kernel)
    edges = [0, 1, (1 << 64) - 1, 1 << 64, m - 1, m, m + 1, -1, -(1 << 64), 1 << 256, Q]
    base = data.draw(st.sampled_from(edges) | st.integers(-m, 2 * m))
    exp = data.draw(st.sampled_from(edges) | st.integers(-(1 << 300), 1 << 300))
    bits = data.draw(st.sampled_from([1, 8, 64, 65, 256]))

    def outcome(call: Callable[[], object]) -> object:
        try:
            return call()
        except (ValueError, TypeError) as exc:
            return type(exc), str(exc)

    table = ctx.table(2, bits)
    for as_int, as_mpz in [
        (lambda: ctx.pow_many(base, [exp]), lambda: ctx.pow_many(mpz(base), [mpz(exp)])),
        (
            lambda: ctx.pow_many_batch([(base, [exp, 3])]),
            lambda: ctx.pow_many_batch([(mpz(base), [mpz(exp), mpz(3)])]),
        ),
        (lambda: table.pow_many([exp]), lambda: table.pow_many([mpz(exp)])),
        (lambda: table.pow_mul(1, base), lambda: table.pow_mul(mpz(1), mpz(base))),
    ]:
        assert outcome(as_mpz) == outcome(as_int)
    if 0 <= base < m and 0 <= exp < 1 << 16384:
        assert ctx.pow_many(mpz(base), [mpz(exp)]) == [pow(base, exp, m)]


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pow_many_batch_equals_powmod(
    fastexp_c: ModuleType, kernel: str, data: st.DataObject
) -> None:
    """Several bases at once (their chains and buckets computed two at a time): exponent
    lists of different lengths and sizes, empty ones included."""
    m = data.draw(_odd_moduli())
    requests = data.draw(
        st.lists(
            st.tuples(_base(m), st.lists(_exponent(Q), min_size=0, max_size=4)),
            min_size=0,
            max_size=5,
        )
    )
    ctx = _modulus(fastexp_c, m, kernel)
    assert ctx.pow_many_batch(requests) == [[pow(b, e, m) for e in es] for b, es in requests]


def _products(n: int) -> st.SearchStrategy[list[list[int]]]:
    """Index tuples of 1 to 4 factors among n values (none when n is 0)."""
    if n == 0:
        return st.just([])
    return st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=4), max_size=8)


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pow_products_equals_products_of_powmods(
    fastexp_c: ModuleType, kernel: str, data: st.DataObject
) -> None:
    """Products of the batch's powers and of the tables' powers, kept in Montgomery form:
    the same numbers as the products of gmpy2's powers (edge bases 0, 1, m-1 included)."""
    m = data.draw(_odd_moduli())
    requests = data.draw(
        st.lists(
            st.tuples(_base(m), st.lists(_exponent(Q), min_size=0, max_size=3)),
            max_size=4,
        )
    )
    ctx = _modulus(fastexp_c, m, kernel)
    fixed = []
    for _ in range(data.draw(st.integers(0, 2))):
        base = data.draw(_base(m))
        bits = data.draw(st.sampled_from([1, 8, 9, 256]))
        exps = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=4))
        fixed.append((base, ctx.table(base, bits), exps))
    values = [pow(b, e, m) for b, es in requests for e in es]
    values += [pow(b, e, m) for b, _, es in fixed for e in es]
    products = data.draw(_products(len(values)))
    expected = []
    for indices in products:
        acc = 1
        for i in indices:
            acc = acc * values[i] % m
        expected.append(acc)
    got = ctx.pow_products(requests, [(t, es) for _, t, es in fixed], products)
    assert got == expected
    # from text_from on, the products' decimal texts (str(mpz): no leading zero, "0")
    text_from = data.draw(st.integers(0, len(products) + 1))
    got = ctx.pow_products(requests, [(t, es) for _, t, es in fixed], products, text_from)
    assert got == [v if i < text_from else str(v) for i, v in enumerate(expected)]
    assert all(isinstance(v, type(mpz(0)) if i < text_from else str) for i, v in enumerate(got))


def _ifma_moduli() -> st.SearchStrategy[int]:
    """Odd moduli in the IFMA kernel's range (1025 to 2078 bits), the largest ones (where
    4p < 2^2080 is tight) drawn often, and the two group primes."""
    return st.one_of(
        st.sampled_from([int(g.p) for g in GROUPS]),
        st.integers(min_value=2070, max_value=2078).flatmap(
            lambda bits: st.integers(min_value=(1 << bits) - (1 << 64), max_value=(1 << bits) - 1)
        ),
        st.integers(min_value=1025, max_value=2078)
        .flatmap(lambda bits: st.integers(min_value=1 << (bits - 1), max_value=(1 << bits) - 1))
        .map(lambda m: m | 1),
    ).map(lambda m: m | 1)


def _near_modulus(m: int) -> st.SearchStrategy[int]:
    """0, 1, 2, m-1, values just below m, below 2^52, and any residue."""
    return st.one_of(
        st.sampled_from([0, 1, 2 % m, m - 1, m - 2]),
        st.integers(max(0, m - (1 << 80)), m - 1),
        st.integers(0, (1 << 52) - 1).map(lambda v: v % m),
        st.integers(0, m - 1),
    )


@pytest.mark.skipif(not HAVE_IFMA, reason="this CPU has no AVX-512 IFMA")
@pytest.mark.parametrize("variant", ["ifma-zen4", "ifma-intel"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_ifma_squaring_and_grouped_products_equal_powmod(
    fastexp_c: ModuleType, variant: str, data: st.DataObject
) -> None:
    """The IFMA squaring kernel (exponents 2^k are pure chains of squarings) and the products
    done three at a time (1 to 7 bases: groups of one, two and three), with the sliding
    windows of the bucket method (all-ones, sparse and random exponents), equal gmpy2, under
    both variants of the kernel (whichever this CPU takes by default)."""
    m = data.draw(_ifma_moduli())
    ctx = fastexp_c.Modulus(m, variant)
    assert ctx.kernel == "ifma" and ctx.variant == variant.removeprefix("ifma-")
    exponent = st.one_of(
        st.integers(0, 300).map(lambda k: 1 << k),
        st.integers(1, 300).map(lambda k: (1 << k) - 1),
        st.lists(st.integers(0, 299), max_size=6).map(lambda bits: sum(1 << b for b in set(bits))),
        st.integers(0, (1 << 256) - 1),
    )
    requests = data.draw(
        st.lists(
            st.tuples(_near_modulus(m), st.lists(exponent, min_size=0, max_size=4)),
            min_size=1,
            max_size=7,
        )
    )
    assert ctx.pow_many_batch(requests) == [[pow(b, e, m) for e in es] for b, es in requests]
    base = requests[0][0]
    table = ctx.table(base, 300)
    exps = [e for _, es in requests for e in es if e < (1 << 300)]
    assert table.pow_many(exps) == [pow(base, e, m) for e in exps]


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_multi_pow_equals_product_of_powmods(
    fastexp_c: ModuleType, kernel: str, data: st.DataObject
) -> None:
    m = data.draw(_odd_moduli())
    pairs = data.draw(st.lists(st.tuples(_base(m), _exponent(Q)), min_size=0, max_size=4))
    expected = 1 % m
    for b, e in pairs:
        expected = expected * pow(b, e, m) % m
    ctx = _modulus(fastexp_c, m, kernel)
    assert ctx.multi_pow([b for b, _ in pairs], [e for _, e in pairs]) == expected


@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_table_equals_powmod(fastexp_c: ModuleType, kernel: str, data: st.DataObject) -> None:
    m = data.draw(_odd_moduli())
    base = data.draw(_base(m))
    bits = data.draw(st.sampled_from([1, 7, 8, 9, 64, 256, 257]))
    table = _modulus(fastexp_c, m, kernel).table(base, bits)
    assert table.max_bits == bits and table.base == base
    exps = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=0, max_size=5))
    assert table.pow_many(exps) == [pow(base, e, m) for e in exps]
    for e in exps[:3]:
        assert table.pow(e) == pow(base, e, m)
        factor = data.draw(_base(m))
        assert table.pow_mul(e, factor) == factor * pow(base, e, m) % m


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_group_edges(fastexp_c: ModuleType, kernel: str, group: Any) -> None:
    p, q, g = int(group.p), int(group.q), int(group.g)
    ctx = fastexp_c.Modulus(p, kernel)
    assert ctx.kernel == kernel and ctx.value == p
    edge_exps = [0, 1, 2, q - 1, q, q + 1, p - 1, p, (1 << 2048) + 5]
    for base in (0, 1, 2, g, p - 1, p - 2):
        assert ctx.pow_many(base, edge_exps) == [pow(base, e, p) for e in edge_exps]
    assert ctx.pow_many(g, [q]) == [1]  # g has order q
    table = ctx.table(g, q.bit_length())
    for e in (0, 1, 255, 256, q - 1, q, (1 << q.bit_length()) - 1):
        assert table.pow(e) == pow(g, e, p)
        assert table.pow_mul(e, p - 1) == (p - 1) * pow(g, e, p) % p


def test_bad_input_is_refused_cleanly(fastexp_c: ModuleType) -> None:
    c = fastexp_c
    p = int(BELENIOS_2048.p)
    ctx = c.Modulus(p)
    for bad_modulus, error in [
        (2, ValueError),
        (1, ValueError),
        (0, ValueError),
        (-7, ValueError),
        (1 << 20, ValueError),
        ((1 << 16385) + 1, ValueError),
        (3.0, TypeError),
        ("7", TypeError),
    ]:
        with pytest.raises(error):
            c.Modulus(bad_modulus)
    with pytest.raises(ValueError, match="kernel"):
        c.Modulus(p, "fast")
    with pytest.raises(ValueError, match="kernel"):
        c.Modulus(p, "ifma-")
    with pytest.raises(ValueError, match="negative exponent"):
        ctx.pow_many(2, [1, -1])
    with pytest.raises(ValueError, match="base out of range"):
        ctx.pow_many(p, [1])
    with pytest.raises(ValueError, match="negative base"):
        ctx.pow_many(-1, [1])
    with pytest.raises(ValueError, match="at most 16384"):
        ctx.pow_many(2, [1 << 16384])
    with pytest.raises(TypeError, match="exponent must be an integer"):
        ctx.pow_many(2, [1.5])
    with pytest.raises(TypeError, match="sequence"):
        ctx.pow_many(2, 5)
    with pytest.raises(TypeError):
        ctx.pow_many(2)
    with pytest.raises(TypeError, match="tuple"):
        ctx.pow_many_batch([[2, [1]]])
    with pytest.raises(TypeError, match="sequence"):
        ctx.pow_many_batch(5)
    with pytest.raises(ValueError, match="negative exponent"):
        ctx.pow_many_batch([(2, [1]), (3, [4, -1])])
    with pytest.raises(ValueError, match="base out of range"):
        ctx.pow_many_batch([(2, [1]), (p + 1, [4])])
    assert ctx.pow_many_batch([]) == []
    with pytest.raises(ValueError, match="as many bases"):
        ctx.multi_pow([2, 3], [1])
    table = ctx.table(2, 256)
    with pytest.raises(ValueError, match="at most 256"):
        table.pow(1 << 256)
    with pytest.raises(ValueError, match="at most 256"):
        table.pow_many([1, 1 << 256])
    with pytest.raises(ValueError, match="negative exponent"):
        table.pow_many([-1])
    with pytest.raises(ValueError, match="factor out of range"):
        table.pow_mul(1, p)
    with pytest.raises(ValueError, match="max_bits"):
        ctx.table(2, 0)
    with pytest.raises(ValueError, match="max_bits"):
        ctx.table(2, 5000)
    with pytest.raises(TypeError):
        c.FixedBaseTable()
    assert ctx.pow_products([], [], []) == []
    assert ctx.pow_products([(2, [3])], [(table, [1])], [(0,), (1, 0), (0, 1, 1)]) == [
        8,
        16,
        32,
    ]
    assert ctx.pow_products([(2, [3, 0])], [], [(0,), (1,), (0, 0)], 1) == [8, "1", "64"]
    assert ctx.pow_products([(0, [1])], [], [(0,)], 0) == ["0"]
    with pytest.raises(ValueError, match="text_from"):
        ctx.pow_products([], [], [], -1)
    with pytest.raises(TypeError, match="3 or 4 arguments"):
        ctx.pow_products([], [], [], 0, 0)
    with pytest.raises(IndexError, match="factor index 2"):
        ctx.pow_products([(2, [3])], [(table, [1])], [(2,)])
    with pytest.raises(IndexError):
        ctx.pow_products([(2, [3])], [], [(-1,)])
    with pytest.raises(ValueError, match="at least one factor"):
        ctx.pow_products([(2, [3])], [], [()])
    with pytest.raises(ValueError, match="another modulus"):
        ctx.pow_products([], [(c.Modulus(p - 2).table(2, 8), [1])], [])
    with pytest.raises(TypeError, match="table, exponents"):
        ctx.pow_products([], [(2, [1])], [])
    with pytest.raises(ValueError, match="negative exponent"):
        ctx.pow_products([(2, [-1])], [], [])
    with pytest.raises(ValueError, match="at most 256"):
        ctx.pow_products([], [(table, [1 << 256])], [])
    with pytest.raises(TypeError, match="index tuples"):
        ctx.pow_products([], [], 5)


def test_the_gil_is_released_and_threads_agree(fastexp_c: ModuleType) -> None:
    p, q = int(BELENIOS_2048.p), int(BELENIOS_2048.q)
    ctx = fastexp_c.Modulus(p)
    results: dict[int, list[Any]] = {}

    def work(i: int) -> None:
        results[i] = ctx.pow_many(i + 2, [q, q - i, i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [pow(i + 2, e, p) for e in (q, q - i, i)] for i in range(8)}


# ---------------------------------------------------------------------- the Python layer


@pytest.fixture(params=["c", "mpn", "pure"])
def engine(request: pytest.FixtureRequest, fastexp_c: ModuleType) -> Iterator[str]:
    """Each engine in turn, the previous one restored afterwards."""
    before = "pure" if fastexp._C is None else ("mpn" if fastexp._KERNEL == "mpn" else "c")
    fastexp.select_engine(request.param)
    try:
        yield request.param
    finally:
        fastexp.select_engine(before)


def test_select_engine_names_the_engine(engine: str) -> None:
    name = fastexp.engine()
    if engine == "pure":
        assert name.startswith("pure gmpy2")
    elif engine == "mpn" or not HAVE_IFMA:
        assert name.startswith("C, GMP") and "mpn kernel" in name
    else:
        assert "IFMA" in name
    with pytest.raises(ValueError, match="engine must be"):
        fastexp.select_engine("fast")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, int(BELENIOS_2048.p) - 1),
    st.lists(_exponent(Q), min_size=0, max_size=5),
)
def test_python_layer_agrees_under_every_engine(base: int, exps: list[int]) -> None:
    p = BELENIOS_2048.p
    expected = [gmpy2.powmod(base, e, p) for e in exps]
    before = "pure" if fastexp._C is None else ("mpn" if fastexp._KERNEL == "mpn" else "c")
    try:
        for name in (["c", "mpn"] if fastexp._C_BUILT is not None else []) + ["pure"]:
            fastexp.select_engine(name)
            assert fastexp.pow_many(mpz(base), exps, p) == expected
            assert fastexp.pow_many_batch([(mpz(base), exps), (mpz(2), exps[:1])], p) == [
                expected,
                [gmpy2.powmod(2, e, p) for e in exps[:1]],
            ]
            assert fastexp.pow_many(mpz(base), exps, mpz(1_000_002)) == [
                gmpy2.powmod(base, e, 1_000_002)
                for e in exps  # even: gmpy2 path
            ]
            table = fastexp.FixedBaseTable(base, p, 256)
            for e in exps:
                assert table.pow(e) == gmpy2.powmod(base, e, p)
            assert table.pow_many(exps) == expected
            assert fastexp.pow_fixed_many(mpz(base), exps, p, 256) == expected
    finally:
        fastexp.select_engine(before)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.sampled_from([0, 1, int(BELENIOS_2048.p) - 1, int(BELENIOS_2048.p)]),
                st.integers(0, int(BELENIOS_2048.p) + 5),
            ),
            st.lists(_exponent(Q), max_size=3),
        ),
        max_size=3,
    ),
    st.lists(
        st.sampled_from([0, 1, Q - 1, Q, (1 << 256) - 1, (1 << 256) + 3]) | st.integers(0, Q),
        max_size=3,
    ),
    st.data(),
)
def test_pow_products_agrees_under_every_engine(
    requests: list[tuple[int, list[int]]], g_exps: list[int], data: st.DataObject
) -> None:
    """:func:`fastexp.pow_products`: the products of the powers, under each engine, with and
    without the fixed base's table built (bases up to p + 5, exponents above the table's and
    the engine's limits: the C engine refuses them and the values are composed in Python)."""
    p, g = BELENIOS_2048.p, BELENIOS_2048.g
    reqs = [(mpz(b), es) for b, es in requests]
    values = [gmpy2.powmod(b, e, p) for b, es in reqs for e in es]
    values += [gmpy2.powmod(g, e, p) for e in g_exps]
    products = data.draw(_products(len(values)))
    expected = []
    for indices in products:
        acc = mpz(1)
        for i in indices:
            acc = acc * values[i] % p
        expected.append(acc)
    before = "pure" if fastexp._C is None else ("mpn" if fastexp._KERNEL == "mpn" else "c")
    try:
        for name in (["c", "mpn"] if fastexp._C_BUILT is not None else []) + ["pure"]:
            fastexp.select_engine(name)  # the table cache is emptied: no table of g yet
            assert fastexp.pow_products(reqs, [(g, g_exps)], products, p, 256) == (expected, [])
            fastexp.fixed_base_table(g, p, 256)
            assert fastexp.pow_products(reqs, [(g, g_exps)], products, p, 256) == (expected, [])
            # the same products as texts (str), after some as mpz
            got = fastexp.pow_products(reqs, [(g, g_exps)], products[:1], p, 256, texts=products)
            assert got == (expected[:1], [str(v) for v in expected])
    finally:
        fastexp.select_engine(before)


# ---------------------------------------------------------------------- ballot verdicts

REFERENCES = ["simple-plain-BELENIOS", "simple-plain-RFC", "threshold-weighted-revotes"]


def _verdict(election: Election, raw: bytes, creds: PublicCredentials) -> tuple[str, ...]:
    try:
        checked = check_ballot_fast(election, raw, creds)
    except VicheError as exc:
        return ("refused", exc.code, str(exc.where))
    return ("accepted", checked.tracker, checked.credential, str(checked.weight))


def _tampered(raw: bytes, election: Election) -> Iterator[bytes]:
    """A few one-number changes: a proof challenge, a ciphertext, the credential."""
    q, p = int(election.group.q), int(election.group.p)
    obj = json.loads(raw)
    answer = obj["answers"][0]
    edits: list[tuple[dict[str, Any], str, Callable[[int], int]]] = [
        (answer["individual_proofs"][0][1], "challenge", lambda v: (v + 1) % q),
        (answer["individual_proofs"][0][0], "response", lambda v: (v + 1) % q),
        (answer["choices"][0], "alpha", lambda v: v * 4 % p),
        (answer["choices"][0], "beta", lambda v: p - v),
        (obj["signature"]["proof"], "challenge", lambda v: (v + 3) % q),
    ]
    for target, key, change in edits:
        old = target[key]
        target[key] = str(change(int(old)))
        yield json.dumps(obj, separators=(",", ":")).encode()
        target[key] = old


_EXPECTED: dict[str, tuple[list[bytes], list[tuple[str, ...]]]] = {}


def _pure_verdicts(
    name: str, election: Election, creds: PublicCredentials, rec_ballots: list[bytes]
) -> tuple[list[bytes], list[tuple[str, ...]]]:
    """The ballots (valid and tampered) and their verdicts under the pure engine, once per
    archive; the plain check (no precomputed powers) agrees on accept/refuse."""
    if name not in _EXPECTED:
        fastexp.select_engine("pure")
        raws = list(rec_ballots)
        for raw in rec_ballots:
            raws.extend(_tampered(raw, election))
        expected = [_verdict(election, raw, creds) for raw in raws]
        plain = []
        for raw in raws:
            try:
                check_ballot(election, raw, creds)
                plain.append("accepted")
            except VicheError:
                plain.append("refused")
        assert [v[0] for v in expected] == plain
        assert "accepted" in plain and "refused" in plain
        _EXPECTED[name] = (raws, expected)
    return _EXPECTED[name]


@pytest.mark.parametrize("name", REFERENCES)
def test_ballot_verdicts_are_the_same_under_every_engine(
    name: str, reference_dir: Path, engine: str
) -> None:
    rec = read_archive(reference_dir / name)
    election = Election.from_bytes(rec.election)
    creds = PublicCredentials.from_bytes(rec.public_credentials)
    raws, expected = _pure_verdicts(name, election, creds, [e.raw for e in rec.ballots[:3]])
    fastexp.select_engine(engine)
    assert [_verdict(election, raw, creds) for raw in raws] == expected


@pytest.mark.skipif(not HAVE_IFMA, reason="this CPU has no AVX-512 IFMA")
def test_ifma_variant_of_this_cpu(fastexp_c: ModuleType) -> None:
    """The kernels "auto" and "ifma" take the variant guessed at import (by vendor), which
    gives the same results as the other one."""
    p = int(BELENIOS_2048.p)
    assert fastexp_c.IFMA_VARIANT in {"zen4", "intel"}
    for kernel in ("auto", "ifma"):
        ctx = fastexp_c.Modulus(p, kernel)
        assert ctx.variant == fastexp_c.IFMA_VARIANT
        assert repr(ctx) == f"Modulus(bits=2048, kernel=ifma-{fastexp_c.IFMA_VARIANT})"
    assert fastexp_c.Modulus(p, "mpn").variant == ""
    base, exps = int(BELENIOS_2048.g) + 5, [Q - 1, (1 << 256) - 1, 1 << 255, 3]
    results = [
        fastexp_c.Modulus(p, v).pow_many_batch([(base, exps)]) for v in ("ifma-zen4", "ifma-intel")
    ]
    assert results[0] == results[1] == [[pow(base, e, p) for e in exps]]


@pytest.mark.skipif(not HAVE_IFMA, reason="this CPU has no AVX-512 IFMA")
def test_fastexp_uses_the_variant_it_measured(fastexp_c: ModuleType) -> None:
    """The engine's contexts take the variant that :func:`fastexp._fastest_variant` timed
    fastest (whatever the extension guessed), the same for every IFMA modulus of the
    process; the measurement names one of the two; mpn-sized moduli keep GMP's kernel."""
    fastexp.select_engine("c")
    p = mpz(BELENIOS_2048.p)
    chosen = fastexp._fastest_variant(fastexp_c, p)
    assert chosen in {"zen4", "intel"}
    ctx = fastexp._modulus(p)
    assert ctx is not None
    assert fastexp._ifma_variant in {"zen4", "intel"}
    assert ctx.variant == fastexp._ifma_variant
    other = fastexp._modulus(mpz(RFC_3526_2048.p))
    assert other is not None and other.variant == fastexp._ifma_variant
    assert fastexp.ifma_variant() == fastexp._ifma_variant
    small = fastexp._modulus(mpz(2**521 - 1))
    assert small is not None and small.variant == ""
    g = int(BELENIOS_2048.g)
    assert fastexp.pow_many(mpz(g), [mpz(Q - 1), mpz(12345)], p) == [
        pow(g, Q - 1, int(p)),
        pow(g, 12345, int(p)),
    ]
