"""Types of the C extension viche.crypto._fastexp (src/viche/crypto/_fastexp.c)."""

from collections.abc import Sequence
from typing import SupportsIndex, final

from gmpy2 import mpz

gmp_version: str
MAX_EXPONENT_BITS: int
MAX_MODULUS_BITS: int
TABLE_MAX_BITS: int
HAVE_IFMA: int
#: 1 when gmpy2.mpz numbers are read in place (their layout checked at import), 0: __index__
MPZ_READ_IN_PLACE: int
#: the IFMA variant "auto" and "ifma" take: a guess by vendor, "zen4" (AMD) or "intel" ("" without
#: IFMA); viche.crypto.fastexp times both and names the faster one
IFMA_VARIANT: str

@final
class Modulus:
    """Montgomery arithmetic modulo an odd ``modulus`` (3 <= modulus < 2^16384)."""

    def __new__(cls, modulus: SupportsIndex, kernel: str = "auto") -> Modulus: ...
    @property
    def value(self) -> int: ...
    @property
    def kernel(self) -> str: ...
    @property
    def variant(self) -> str: ...
    def pow_many(self, base: SupportsIndex, exponents: Sequence[SupportsIndex], /) -> list[mpz]: ...
    def pow_many_batch(
        self, requests: Sequence[tuple[SupportsIndex, Sequence[SupportsIndex]]], /
    ) -> list[list[mpz]]: ...
    def multi_pow(
        self, bases: Sequence[SupportsIndex], exponents: Sequence[SupportsIndex], /
    ) -> mpz: ...
    def pow_products(
        self,
        requests: Sequence[tuple[SupportsIndex, Sequence[SupportsIndex]]],
        fixed: Sequence[tuple[FixedBaseTable, Sequence[SupportsIndex]]],
        products: Sequence[Sequence[int]],
        text_from: int = ...,
        /,
    ) -> list[mpz | str]: ...
    def table(self, base: SupportsIndex, max_bits: int, /) -> FixedBaseTable: ...

@final
class FixedBaseTable:
    """``base^(d·256^i)`` in Montgomery form (made by :meth:`Modulus.table`)."""

    @property
    def max_bits(self) -> int: ...
    @property
    def base(self) -> int: ...
    @property
    def modulus(self) -> Modulus: ...
    def pow(self, exponent: SupportsIndex, /) -> mpz: ...
    def pow_mul(self, exponent: SupportsIndex, factor: SupportsIndex, /) -> mpz: ...
    def pow_many(self, exponents: Sequence[SupportsIndex], /) -> list[mpz]: ...

def pow_many(
    base: SupportsIndex, exponents: Sequence[SupportsIndex], modulus: SupportsIndex, /
) -> list[mpz]: ...
