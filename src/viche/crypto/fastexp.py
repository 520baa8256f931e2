"""Fast modular exponentiation: fixed-base tables and multi-exponentiation.

All routines compute exactly what ``gmpy2.powmod`` computes; they only do it with fewer
modular multiplications. Measured on the 2-core reference machine (2048-bit modulus, CPU
time): a 256-bit ``powmod`` costs about 290-330 µs (about 1.1 µs per multiplication inside
GMP), a multiplication and reduction from Python about 1.6 µs; a fixed-base table brings
``g^e`` to 46 µs (6×) for 256-bit exponents and to 383 µs against 1.9 ms (5×) for the
2047-bit exponents of RFC-3526-2048.

* :class:`FixedBaseTable` — for a base used many times (the generator g, the election key
  y): precomputes ``base^(d·2^(w·i))`` for every window position i and digit d, after which
  ``base^e`` is one multiplication per non-zero w-bit digit of e and no squaring at all
  (32 multiplications for a 256-bit exponent instead of about 300).
* :func:`multi_pow` — Straus' simultaneous exponentiation ``Π b_i^e_i`` sharing one chain
  of squarings between all bases (pays from three variable bases on).
* :func:`pow_many` — several exponents of one variable base (Yao's method), sharing the
  squarings: e.g. ``α^q`` (membership), ``α^c0`` and ``α^c1`` of a 0/1 proof.
* :func:`fixed_base_table` — a per-process cache of tables, keyed by (base, modulus), so that
  the generator of each group and the key of each election are tabulated once per process.

Exponents must be non-negative (callers reduce mod q first); the tables accept exponents up
to the size they were built for and fall back to ``gmpy2.powmod`` above it.

Two engines compute the same values. The C extension :mod:`viche.crypto._fastexp` (built
with the package when a C compiler and GMP's headers are present) keeps values in
Montgomery form and runs whole exponentiations without the GIL and without a Python call
per multiplication. Its kernel is, on CPUs with AVX-512 IFMA and for moduli of 1025 to 2078
bits (both groups of the specification), a Montgomery multiplication in radix 2^52 on
eight-lane 52-bit multiply-adds (about 0.4 µs per 2048-bit product alone, 0.18 µs when three
independent products or squarings run in one pass, as the batch routines do); elsewhere GMP's mpn
layer (``mpn_mul_n``/``mpn_sqr`` and a reduction by ``mpn_addmul_1`` rows, about 1.1 µs).
Without the extension, or with ``VICHE_FASTEXP=pure`` in the environment, the routines run
in pure gmpy2 as described above (``VICHE_FASTEXP=mpn`` keeps the C engine but never uses
IFMA). :func:`engine` names the engine in use (``viche --version`` prints it);
:func:`select_engine` switches (tests, benches).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import ModuleType
from typing import TYPE_CHECKING, cast

import gmpy2
from gmpy2 import mpz

if TYPE_CHECKING:
    from viche.crypto._fastexp import FixedBaseTable as _CTable
    from viche.crypto._fastexp import Modulus as _CModulus

__all__ = [
    "FixedBaseTable",
    "clear_table_cache",
    "engine",
    "fixed_base_table",
    "ifma_variant",
    "multi_pow",
    "pow_fixed",
    "pow_fixed_many",
    "pow_many",
    "pow_many_batch",
    "pow_memo",
    "pow_products",
    "precomputed_powers",
    "precomputed_product_text",
    "select_engine",
]

log = logging.getLogger("viche.fastexp")

#: ``VICHE_FASTEXP=pure`` forces the pure-gmpy2 engine even when the C extension is built;
#: ``VICHE_FASTEXP=mpn`` the C engine with GMP's kernel only (no AVX-512 IFMA).
ENGINE_ENV = "VICHE_FASTEXP"
_ENV_CHOICE = os.environ.get(ENGINE_ENV, "").strip().lower()
#: The C engine's kernel choice: "auto" (IFMA where it applies) or "mpn".
_KERNEL = "mpn" if _ENV_CHOICE == "mpn" else "auto"


def _load_c() -> tuple[ModuleType | None, str]:
    """The C extension, or None and why it is not there."""
    try:
        from viche.crypto import _fastexp
    except ImportError as exc:
        return None, f"C extension not built: {exc}"
    return _fastexp, ""


#: The extension module when it imported (even when the pure engine is selected).
_C_BUILT, _C_MISSING = _load_c()
#: The engine in use: the extension, or None for pure gmpy2.
_C: ModuleType | None = _C_BUILT
if _ENV_CHOICE == "pure":
    _C, _C_MISSING = None, f"{ENGINE_ENV}=pure"
#: The C engine's limits (exponents of pow_many/multi_pow, tables); larger go to gmpy2.
_C_MAX_EXP_BITS: int = getattr(_C_BUILT, "MAX_EXPONENT_BITS", 0)
_C_TABLE_MAX_BITS: int = getattr(_C_BUILT, "TABLE_MAX_BITS", 0)


def engine() -> str:
    """Which engine runs, e.g. ``"C, AVX-512 IFMA kernel for 1025-2078-bit moduli, GMP
    6.2.1 mpn otherwise"`` or ``"pure gmpy2 (VICHE_FASTEXP=pure)"``."""
    if _C is None:
        return f"pure gmpy2 ({_C_MISSING})"
    if _KERNEL == "auto" and _C.HAVE_IFMA:
        return (
            f"C, AVX-512 IFMA kernel for 1025-2078-bit moduli, GMP {_C.gmp_version} mpn otherwise"
        )
    return f"C, GMP {_C.gmp_version} mpn kernel"


def select_engine(name: str) -> None:
    """Use the ``"c"`` engine (the best kernel), ``"mpn"`` (the C engine with GMP's kernel
    only) or ``"pure"`` (gmpy2) from now on: tests and benches compare them. Raises
    ``RuntimeError`` for a C engine when the extension is not built."""
    global _C, _C_MISSING, _KERNEL
    if name == "pure":
        _C, _C_MISSING = None, "selected"
    elif name in {"c", "mpn"}:
        if _C_BUILT is None:
            raise RuntimeError("the C engine is not available: C extension not built")
        _C, _C_MISSING, _KERNEL = _C_BUILT, "", "auto" if name == "c" else "mpn"
    else:
        raise ValueError(f"engine must be 'c', 'mpn' or 'pure', not {name!r}")
    _moduli.clear()
    clear_table_cache()


_moduli: dict[mpz, _CModulus] = {}
log.debug("fastexp engine: %s", engine())


def _modulus(m: mpz) -> _CModulus | None:
    """The C engine's Montgomery context of ``m`` (cached), or None when the C engine is off
    or cannot take ``m`` (even, below 3, or too large)."""
    c = _C
    if c is None:
        return None
    ctx = _moduli.get(m)
    if ctx is None:
        if not (m & 1 and m >= 3 and m.bit_length() <= c.MAX_MODULUS_BITS):
            return None
        if len(_moduli) >= 64:
            _moduli.clear()
        ctx = c.Modulus(m, _KERNEL)
        if ctx.variant:  # the IFMA kernel: the variant measured fastest in this process
            global _ifma_variant  # noqa: PLW0603 (one measurement per process)
            if _ifma_variant is None:
                _ifma_variant = _fastest_variant(c, m)
            if ctx.variant != _ifma_variant:
                ctx = c.Modulus(m, f"ifma-{_ifma_variant}")
        _moduli[m] = ctx
    return ctx


def ifma_variant() -> str:
    """The IFMA kernel's variant this process uses for BELENIOS-2048-sized moduli, "zen4"
    or "intel" (timed now if it was not yet: :func:`_fastest_variant`), or "" when the IFMA
    kernel is not in use (no IFMA, the mpn or pure engine)."""
    from viche.crypto.group import BELENIOS_2048

    ctx = _modulus(mpz(BELENIOS_2048.p))
    return "" if ctx is None else str(ctx.variant)


#: The IFMA kernel's variant this process uses ("zen4" or "intel"), measured on its first
#: modulus that the kernel takes (:func:`_fastest_variant`); None before.
_ifma_variant: str | None = None
#: Rounds of the measurement (each variant in turn, best of the rounds kept), and the margin
#: the other variant must win by to replace the one the extension guessed at import.
_VARIANT_ROUNDS = 5
_VARIANT_MARGIN = 0.97


def _fastest_variant(c: ModuleType, m: mpz) -> str:
    """The IFMA variant that runs a ballot's kind of work fastest on this CPU, by timing it.

    The two variants give the same results limb for limb; only their speed depends on the
    CPU, and not as its vendor says: on the Zen 4 of 2026-12-06 the "intel" one checked a
    ballot 6 % faster than the "zen4" one that AMD CPUs were given, and the extension's
    short timing at import (a synthetic mix of products) picked either at random there
    (bench/check_speed/README.md, var7). So each process times the real thing once, on its
    first modulus: ``pow_many_batch`` of three bases with three 256-bit exponents each
    (about 1,200 products, 0.3-0.5 ms a run), the variants in turn, best of
    :data:`_VARIANT_ROUNDS`; the extension's guess ``IFMA_VARIANT`` is kept unless the
    other is faster by more than 3 %."""
    rng = random.Random(int(m))  # made-up bases and exponents below m
    q_bits = 256
    job = [
        (mpz(rng.randrange(2, int(m))), [mpz(rng.getrandbits(q_bits)) for _ in range(3)])
        for _ in range(3)
    ]
    guess = str(c.IFMA_VARIANT) or "zen4"
    other = "intel" if guess == "zen4" else "zen4"
    contexts = {v: c.Modulus(m, f"ifma-{v}") for v in (guess, other)}
    best = dict.fromkeys(contexts, float("inf"))
    for _ in range(_VARIANT_ROUNDS):
        for v, ctx in contexts.items():
            t0 = time.perf_counter()
            ctx.pow_many_batch(job)
            best[v] = min(best[v], time.perf_counter() - t0)
    chosen = other if best[other] < _VARIANT_MARGIN * best[guess] else guess
    log.debug("IFMA variant %s (best µs: %s)", chosen, {v: round(t * 1e6) for v, t in best.items()})
    return chosen


#: Window of the fixed-base tables: 8 bits, so that digits are the bytes of the exponent.
_TABLE_WINDOW = 8
#: Window of Straus' and Yao's methods (4 bits: 16 precomputed values per base).
_VAR_WINDOW = 4


def _nbytes(bits: int) -> int:
    return (bits + 7) // 8


class FixedBaseTable:
    """Precomputed powers of one base modulo one modulus, for exponents below ``2^max_bits``.

    ``rows[i][d] = base^(d · 256^i) mod m`` for d in 0..255; ``base^e`` is then the product
    over the bytes e_i of e of ``rows[i][e_i]``. Memory: ``ceil(max_bits/8) · 256`` residues,
    about 2 MB for 256-bit exponents and 17 MB for the 2047-bit exponents of RFC-3526-2048.
    Building costs about as much as 25 (resp. 20) ordinary exponentiations.
    """

    __slots__ = ("_ctable", "base", "max_bits", "modulus", "rows")

    def __init__(self, base: mpz | int, modulus: mpz | int, max_bits: int) -> None:
        if modulus <= 1:
            raise ValueError("modulus must be > 1")
        if max_bits <= 0:
            raise ValueError("max_bits must be positive")
        self.modulus = mpz(modulus)
        self.base = mpz(base) % self.modulus
        self.max_bits = int(max_bits)
        m = self.modulus
        rows: list[list[mpz]] = []
        self.rows = rows
        self._ctable: _CTable | None = None
        ctx = _modulus(m)
        if ctx is not None and self.max_bits <= _C_TABLE_MAX_BITS:
            self._ctable = ctx.table(self.base, self.max_bits)
            return  # rows stay empty: the table lives in C, in Montgomery form
        b = self.base
        for _ in range(_nbytes(self.max_bits)):
            row = [mpz(1) % m, b]
            acc = b
            for _d in range(2, 1 << _TABLE_WINDOW):
                acc = acc * b % m
                row.append(acc)
            rows.append(row)
            b = acc * b % m  # b^(256) for the next row

    def __repr__(self) -> str:
        return f"FixedBaseTable(bits={self.max_bits}, modulus_bits={self.modulus.bit_length()})"

    def pow(self, exponent: mpz | int) -> mpz:
        """``base^exponent mod modulus`` for ``exponent >= 0``."""
        if self._ctable is not None:
            try:  # refuses negative exponents and those above max_bits: handled below
                return self._ctable.pow(exponent)
            except ValueError:
                pass
        e = int(exponent)
        if e < 0:
            raise ValueError("negative exponent")
        m = self.modulus
        if e.bit_length() > self.max_bits:
            return gmpy2.powmod(self.base, e, m)
        rows = self.rows
        acc: mpz | None = None
        for i, d in enumerate(e.to_bytes(_nbytes(e.bit_length()) or 1, "little")):
            if d:
                acc = rows[i][d] if acc is None else acc * rows[i][d] % m
        return mpz(1) % m if acc is None else acc

    def pow_many(self, exponents: Sequence[mpz | int]) -> list[mpz]:
        """``[self.pow(e) for e in exponents]`` (in one call, three at a time, in C)."""
        if self._ctable is not None:
            try:  # refuses negative exponents and those above max_bits: one by one then
                return self._ctable.pow_many(exponents)
            except ValueError:
                pass
        return [self.pow(e) for e in exponents]

    def pow_mul(self, exponent: mpz | int, factor: mpz) -> mpz:
        """``factor · base^exponent mod modulus``: saves one reduction in products like
        ``g^r · α^c`` where ``α^c`` is already known."""
        e = int(exponent)
        if e < 0:
            raise ValueError("negative exponent")
        m = self.modulus
        if e.bit_length() > self.max_bits:
            return factor * gmpy2.powmod(self.base, e, m) % m
        if self._ctable is not None:
            return self._ctable.pow_mul(e, mpz(factor) % m)
        rows = self.rows
        acc = mpz(factor) % m
        for i, d in enumerate(e.to_bytes(_nbytes(e.bit_length()) or 1, "little")):
            if d:
                acc = acc * rows[i][d] % m
        return acc


# ---------------------------------------------------------------------- table cache

_CACHE_SIZE = 16
_cache: OrderedDict[tuple[mpz, mpz, int], FixedBaseTable] = OrderedDict()
_cache_lock = threading.Lock()


def fixed_base_table(base: mpz | int, modulus: mpz | int, max_bits: int) -> FixedBaseTable:
    """The table of ``base`` mod ``modulus``, built on first use and kept for the process.

    At most 16 tables are kept (least recently used dropped): one generator per group and
    a few election keys.
    """
    key = (mpz(base), mpz(modulus), int(max_bits))
    with _cache_lock:
        table = _cache.get(key)
        if table is not None:
            _cache.move_to_end(key)
            return table
    table = FixedBaseTable(base, modulus, max_bits)
    with _cache_lock:
        _cache[key] = table
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return table


def clear_table_cache() -> None:
    """Forget every cached table and use count (tests; memory)."""
    with _cache_lock:
        _cache.clear()
        _uses.clear()


#: A base gets a table after this many exponentiations: short programs that exponentiate a
#: few times never pay for building one (it costs about 25 exponentiations).
_BUILD_AFTER = 32
_uses: dict[tuple[mpz, mpz, int], int] = {}


def _table_after(key: tuple[mpz, mpz, int], uses: int) -> FixedBaseTable | None:
    """The cached table of ``key``, built once the base has been used often enough to pay
    for one (``uses`` more uses now); None until then."""
    table = _cache.get(key)
    if table is None:
        n = _uses.get(key, 0) + uses
        if n < _BUILD_AFTER:
            if len(_uses) > 1024:
                _uses.clear()
            _uses[key] = n
            return None
        table = fixed_base_table(*key)
        _uses.pop(key, None)
    return table


def pow_fixed(base: mpz, exponent: mpz | int, modulus: mpz, max_bits: int) -> mpz:
    """``base^exponent mod modulus`` through the cached table of ``base`` once the base has
    been used often enough to pay for one (``gmpy2.powmod`` until then, and for negative
    exponents or exponents above ``max_bits``); answered from the active
    :func:`precomputed_powers` block when it holds the pair."""
    memo = _MEMO.get()
    if memo is not None and memo[0] == modulus:
        value = memo[1].get((base, exponent))
        if value is not None:
            return value
    if exponent < 0 or exponent.bit_length() > max_bits:
        return gmpy2.powmod(base, exponent, modulus)
    table = _table_after((base, modulus, max_bits), 1)
    if table is None:
        return gmpy2.powmod(base, exponent, modulus)
    return table.pow(exponent)


def pow_fixed_many(
    base: mpz, exponents: Sequence[mpz | int], modulus: mpz, max_bits: int
) -> list[mpz]:
    """``[pow_fixed(base, e, modulus, max_bits) for e in exponents]`` in one call to the
    table (the C engine computes three exponents at a time)."""
    if any(e < 0 or e.bit_length() > max_bits for e in exponents):
        return [pow_fixed(base, e, modulus, max_bits) for e in exponents]
    table = _table_after((base, modulus, max_bits), len(exponents))
    if table is None:
        return [gmpy2.powmod(base, e, modulus) for e in exponents]
    return table.pow_many(exponents)


# ---------------------------------------------------------------------- variable bases


def _nibbles(e: int, count: int) -> list[int]:
    """The ``count`` 4-bit digits of e, most significant first."""
    out: list[int] = []
    for byte in e.to_bytes((count + 1) // 2, "big"):
        out.append(byte >> 4)
        out.append(byte & 15)
    return out[-count:] if len(out) > count else out


def multi_pow(pairs: Sequence[tuple[mpz, mpz | int]], modulus: mpz | int) -> mpz:
    """``Π base_i^exp_i mod modulus`` (Straus' method, 4-bit windows, shared squarings).

    One chain of squarings instead of one per base; but its multiplications run from Python,
    about 1.5 times dearer than GMP's inside ``powmod``. Measured (2048-bit modulus, 256-bit
    exponents, CPU time): two bases break even with two ``powmod`` calls (605 against
    585 µs), three save about 20% (707 against 881 µs). With a single pair it simply calls
    ``gmpy2.powmod``. Products with a fixed base (``g^r · α^c``) are cheaper as
    ``FixedBaseTable.pow_mul(r, α^c)``.
    """
    m = mpz(modulus)
    if len(pairs) == 0:
        return mpz(1) % m
    exps = [int(e) for _, e in pairs]
    if any(e < 0 for e in exps):
        raise ValueError("negative exponent")
    if len(pairs) == 1:
        return gmpy2.powmod(pairs[0][0], exps[0], m)
    bits = max(e.bit_length() for e in exps)
    ctx = _modulus(m)
    if ctx is not None and bits <= _C_MAX_EXP_BITS:
        return ctx.multi_pow([mpz(b) % m for b, _ in pairs], exps)
    if bits == 0:
        return mpz(1) % m
    ndig = (bits + _VAR_WINDOW - 1) // _VAR_WINDOW
    tables: list[list[mpz]] = []
    digits: list[list[int]] = []
    for (base, _), e in zip(pairs, exps, strict=True):
        b = mpz(base) % m
        t = [mpz(1), b]
        for _ in range(2, 1 << _VAR_WINDOW):
            t.append(t[-1] * b % m)
        tables.append(t)
        digits.append(_nibbles(e, ndig))
    acc: mpz | None = None
    for pos in range(ndig):
        if acc is not None:
            for _ in range(_VAR_WINDOW):
                acc = acc * acc % m
        for t, ds in zip(tables, digits, strict=True):
            d = ds[pos]
            if d:
                acc = t[d] if acc is None else acc * t[d] % m
    return mpz(1) % m if acc is None else acc


def pow_many(base: mpz, exponents: Sequence[mpz | int], modulus: mpz | int) -> list[mpz]:
    """``[base^e mod modulus for e in exponents]`` sharing the squarings (Yao's method).

    The powers ``base^(16^i)`` are computed once; each result is then assembled from them
    by digit buckets: about 94 multiplications per 256-bit exponent on top of the 256 shared
    squarings, against about 300 for a separate exponentiation. A multiplication from Python
    costs about 1.5 times one inside GMP's ``powmod`` (1.6 µs against 1.1 µs for 2048 bits),
    so this pays from three exponents of the same size on (about 15% for three, 30% for
    five); fewer go to ``gmpy2.powmod`` one by one.
    """
    m = mpz(modulus)
    if len(exponents) >= 2 and (ctx := _modulus(m)) is not None:
        # in C two exponents already pay (shared squarings, no Python in the loop); it
        # refuses negative exponents and those above its limit (ValueError): gmpy2 then
        try:
            return ctx.pow_many(mpz(base) % m, exponents)
        except ValueError:
            pass
    exps = [int(e) for e in exponents]
    if any(e < 0 for e in exps):
        raise ValueError("negative exponent")
    if len(exps) < 3:
        return [gmpy2.powmod(base, e, m) for e in exps]
    bits = max(e.bit_length() for e in exps)
    ndig = max(1, (bits + _VAR_WINDOW - 1) // _VAR_WINDOW)
    b = mpz(base) % m
    powers = [b]
    for _ in range(ndig - 1):
        x = powers[-1]
        for _s in range(_VAR_WINDOW):
            x = x * x % m
        powers.append(x)
    one = mpz(1) % m
    out: list[mpz] = []
    top = (1 << _VAR_WINDOW) - 1
    for e in exps:
        buckets: list[mpz | None] = [None] * (top + 1)
        for pos, d in enumerate(reversed(_nibbles(e, ndig))):
            if d:
                cur = buckets[d]
                buckets[d] = powers[pos] if cur is None else cur * powers[pos] % m
        # Π_d bucket_d^d = Π_{k=1..top} (Π_{d>=k} bucket_d): running products.
        running: mpz | None = None
        result: mpz | None = None
        for d in range(top, 0, -1):
            bd = buckets[d]
            if bd is not None:
                running = bd if running is None else running * bd % m
            if running is not None:
                result = running if result is None else result * running % m
        out.append(one if result is None else result)
    return out


def pow_many_batch(
    requests: Sequence[tuple[mpz, Sequence[mpz | int]]], modulus: mpz | int
) -> list[list[mpz]]:
    """``[pow_many(base, exponents, modulus) for base, exponents in requests]``.

    The C engine computes the whole batch in one call without the GIL, three products at a
    time where they are independent (three bases' chains of squarings, three exponents'
    buckets, with sliding windows): the IFMA kernel does three products in about 1.4 times
    the time of one.
    """
    m = mpz(modulus)
    ctx = _modulus(m)
    if ctx is not None:
        try:  # refuses negative exponents and those above its limit: pow_many then
            return ctx.pow_many_batch(
                [(b if 0 <= b < m else mpz(b) % m, exps) for b, exps in requests]
            )
        except ValueError:
            pass
    return [pow_many(b, exps, m) for b, exps in requests]


def pow_products(
    requests: Sequence[tuple[mpz, Sequence[mpz | int]]],
    fixed: Sequence[tuple[mpz, Sequence[mpz | int]]],
    products: Sequence[Sequence[int]],
    modulus: mpz,
    max_bits: int,
    *,
    texts: Sequence[Sequence[int]] = (),
) -> tuple[list[mpz], list[str]]:
    """Products of powers: ``[Π values[i] for i in indices mod modulus for indices in
    products]``, where ``values`` lists every power of ``pow_many_batch(requests)`` (base
    after base) and then, for each ``(base, exponents)`` of ``fixed``, every power of
    ``pow_fixed_many(base, exponents, modulus, max_bits)``; and the decimal texts
    (``str``) of the products of ``texts``, the same way.

    E.g. the commitments ``g^s · a^c`` of a ballot's proofs, of which the check reads only
    the decimal text (it hashes them): the C engine keeps every power in Montgomery form,
    multiplies there and converts each product once, to an ``mpz`` or straight to its
    digits, instead of converting both powers and multiplying them in Python. It runs when
    the tables of the fixed bases are built (:func:`pow_fixed_many` builds them after a few
    uses); otherwise, and for exponents it refuses (negative, too large), the same values
    are composed from :func:`pow_many_batch` and :func:`pow_fixed_many`.
    """
    m = mpz(modulus)
    ctx = _modulus(m)
    # an extension built before pow_products existed (a stale copy of the .so) lacks it
    if ctx is not None and max_bits <= _C_TABLE_MAX_BITS and hasattr(ctx, "pow_products"):
        with _cache_lock:
            tables = [_cache.get((mpz(base), m, int(max_bits))) for base, _ in fixed]
        ctables = [t._ctable for t in tables if t is not None and t._ctable is not None]
        if len(ctables) == len(fixed):
            try:  # refuses negative exponents and those above its limits: composed below
                out = ctx.pow_products(
                    [(b if 0 <= b < m else mpz(b) % m, exps) for b, exps in requests],
                    [(t, exps) for t, (_, exps) in zip(ctables, fixed, strict=True)],
                    [*products, *texts],
                    len(products),
                )
            except ValueError:
                pass
            else:  # mpz before len(products), str from there (the engine's contract)
                n = len(products)
                return cast(list[mpz], out[:n]), cast(list[str], out[n:])
    values = [v for vs in pow_many_batch(requests, m) for v in vs]
    for base, exps in fixed:
        values += pow_fixed_many(base, exps, m, max_bits)
    out_values: list[mpz] = []
    for indices in [*products, *texts]:
        if not indices:
            raise ValueError("a product needs at least one factor")
        acc = values[indices[0]]
        for i in indices[1:]:
            acc = acc * values[i] % m
        out_values.append(acc)
    n = len(products)
    return out_values[:n], [str(v) for v in out_values[n:]]


# ---------------------------------------------------------------------- precomputed powers

#: The decimal texts of the products ``f^s · (b / g^m)^c`` of a :func:`precomputed_powers`
#: block (g the group's generator: a proof's commitments), keyed ``(f, s, b, c, m)``.
ProductTexts = Mapping[tuple[mpz, mpz, mpz, mpz, int], str]
_NO_PRODUCTS: ProductTexts = {}

_MEMO: ContextVar[tuple[mpz, Mapping[tuple[mpz, mpz | int], mpz], ProductTexts] | None] = (
    ContextVar("viche_power_memo", default=None)
)


@contextmanager
def precomputed_powers(
    modulus: mpz,
    values: Mapping[tuple[mpz, mpz | int], mpz],
    products: ProductTexts = _NO_PRODUCTS,
) -> Iterator[None]:
    """Within the block, :func:`pow_memo` answers ``base^exp mod modulus`` from ``values``
    (keyed by ``(base, exp)``) when it holds the pair, and :func:`precomputed_product_text`
    the decimal text of ``f^s · (b / g^m)^c mod modulus`` from ``products`` (keyed by
    ``(f, s, b, c, m)``; g the generator of the group of ``modulus``).

    A verifier that knows in advance which powers a check will need computes them together
    (e.g. with :func:`pow_many`, which shares the squarings between the exponents of one
    base) and runs the unchanged check inside this block. The values must be exact: they are
    trusted as they are (the verifier computes them itself, never reads them from input).
    """
    token = _MEMO.set((mpz(modulus), values, products))
    try:
        yield
    finally:
        _MEMO.reset(token)


def pow_memo(base: mpz, exponent: mpz | int, modulus: mpz) -> mpz:
    """``base^exponent mod modulus``, from the active :func:`precomputed_powers` block when
    it holds the pair, else ``gmpy2.powmod``."""
    memo = _MEMO.get()
    if memo is not None and memo[0] == modulus:
        value = memo[1].get((base, exponent))
        if value is not None:
            return value
    return gmpy2.powmod(base, exponent, modulus)


def precomputed_product_text(  # noqa: PLR0917 (the key's parts, then the modulus)
    f: mpz, s: mpz, b: mpz, c: mpz, m: int, modulus: mpz
) -> str | None:
    """``str(f^s · (b / g^m)^c mod modulus)`` from the active :func:`precomputed_powers`
    block when it holds it (a proof's commitment, e.g. ``g^response · a^challenge``, which a
    check only hashes), else None."""
    memo = _MEMO.get()
    if memo is not None and memo[0] == modulus:
        return memo[2].get((f, s, b, c, m))
    return None
