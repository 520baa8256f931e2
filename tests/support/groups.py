"""A small group for the property tests of the algebra (never used by an election).

``TEST_128`` is the order-q subgroup of Z_p^* for the safe prime p = 2q + 1 of 128 bits,
with q the first prime above 2^126 + 12345 for which 2q + 1 is also prime (gmpy2.next_prime),
and g = 4 (a square, so of order q). Exponentiations cost a fraction of those of the
2048-bit groups of the specification, so the laws that do not depend on the size of the
group (homomorphism, completeness and soundness of the proofs, the shuffle) run many more
examples in the same time. ``tests/property/test_small_group.py`` re-checks the parameters.
No Belenios group has this name: ``group_by_name`` refuses it.
"""

from __future__ import annotations

from gmpy2 import mpz

from viche.crypto.group import Group

TEST_128 = Group(
    name="TEST-128",
    p=mpz("170141183460469231731687303715884159587"),
    q=mpz("85070591730234615865843651857942079793"),
    g=mpz(4),
    safe_prime=True,
)
