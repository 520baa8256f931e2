from __future__ import annotations

import gmpy2
import pytest
from gmpy2 import mpz

from viche.crypto.group import (
    BELENIOS_2048,
    GROUPS,
    RFC_3526_2048,
    Group,
    group_by_name,
    parse_number,
)
from viche.errors import GroupMembershipError, Location, NumberFormatError, ProtocolError


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=list(GROUPS))
def test_parameters_are_sound(group: Group) -> None:
    assert gmpy2.is_prime(group.p, 50)
    assert gmpy2.is_prime(group.q, 50)
    assert (group.p - 1) % group.q == 0
    assert gmpy2.powmod(group.g, group.q, group.p) == 1
    assert group.g != 1


def test_rfc_group_is_safe_prime() -> None:
    assert RFC_3526_2048.p == 2 * RFC_3526_2048.q + 1
    assert RFC_3526_2048.embedding is not None
    assert BELENIOS_2048.embedding is None


@pytest.mark.parametrize("group", list(GROUPS.values()), ids=list(GROUPS))
def test_membership(group: Group) -> None:
    x = group.powg(mpz(123456789))
    assert group.is_element(x)
    assert group.is_element(mpz(1))
    assert not group.is_element(mpz(0))
    assert not group.is_element(group.p)
    assert not group.is_element(group.p - 1)  # order 2, outside the subgroup
    with pytest.raises(GroupMembershipError, match="not an element"):
        group.check_element(group.p - 1, where=Location(ballot="1", path=("alpha",)))


def test_non_member_detected_in_belenios_group() -> None:
    # 3 is not in the order-q subgroup (3^q != 1), so membership must fail
    assert gmpy2.powmod(3, BELENIOS_2048.q, BELENIOS_2048.p) != 1
    assert not BELENIOS_2048.is_element(mpz(3))


def test_group_by_name() -> None:
    assert group_by_name("BELENIOS-2048") is BELENIOS_2048
    with pytest.raises(ProtocolError, match="unknown group 'Ed25519'"):
        group_by_name("Ed25519")


@pytest.mark.parametrize("bad", ["", "01", "-1", "1.0", " 1", "１", "0x10"])
def test_parse_number_rejects(bad: str) -> None:
    with pytest.raises(NumberFormatError):
        parse_number(bad, where=Location(path=("x",)))


def test_parse_number_rejects_non_string() -> None:
    with pytest.raises(NumberFormatError, match="JSON string"):
        parse_number(12, where=Location(path=("x",)))


def test_parse_number_accepts() -> None:
    assert parse_number("0") == 0
    assert parse_number("1234") == 1234


def test_parse_number_never_quotes_the_value() -> None:
    secret = "01234567890123456789012345"
    with pytest.raises(NumberFormatError) as info:
        parse_number(secret, where=Location(trustee=1, path=("private key",)))
    assert "leading zero" in str(info.value)
    assert "123456" not in str(info.value)
    with pytest.raises(NumberFormatError, match="character 3 of 5 is not a digit") as info:
        parse_number("12x45")
    assert "12x45" not in str(info.value)
