"""The small test group is a group of prime order q, and it is not a Belenios group."""

from __future__ import annotations

import gmpy2
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from support.groups import TEST_128
from viche.crypto.group import group_by_name
from viche.errors import ProtocolError


def test_parameters_are_a_safe_prime_group() -> None:
    g = TEST_128
    assert g.p == 2 * g.q + 1
    assert gmpy2.is_prime(g.q, 64) and gmpy2.is_prime(g.p, 64)
    assert g.g != 1 and gmpy2.powmod(g.g, g.q, g.p) == 1
    assert g.is_element(g.g)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=int(TEST_128.p) - 1))
def test_membership_is_the_order_q_subgroup(x: int) -> None:
    g = TEST_128
    assert g.is_element(mpz(x)) == (gmpy2.powmod(x, g.q, g.p) == 1)


def test_elections_cannot_name_it() -> None:
    with pytest.raises(ProtocolError, match="unknown group"):
        group_by_name(TEST_128.name)
