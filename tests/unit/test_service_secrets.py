"""Stored secrets: argon2id for roles, salted SHA-256 for voter login secrets; both checked
by one function, wrong or malformed input refused, nothing secret in the stored form."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.service import secrets as sec


def test_login_secret_hash_accepts_only_its_secret() -> None:
    secret = sec.new_secret()
    stored = sec.hash_login_secret(secret)
    assert stored.startswith("$viche-sha256$")
    assert secret not in stored
    assert sec.check_secret(stored, secret)
    assert sec.check_login_secret(stored, secret)
    assert not sec.check_login_secret(stored, secret + "x")
    assert not sec.check_login_secret(stored, "")


def test_login_secret_hashes_are_salted() -> None:
    secret = sec.new_secret()
    assert sec.hash_login_secret(secret) != sec.hash_login_secret(secret)


def test_role_secrets_stay_argon2_and_both_forms_check() -> None:
    secret = sec.new_secret()
    stored = sec.hash_secret(secret)
    assert stored.startswith("$argon2id$")
    assert sec.check_secret(stored, secret)
    assert sec.check_login_secret(stored, secret)  # a voter hashed by an older Viche
    assert not sec.check_secret(stored, sec.new_secret())


def test_no_account_never_matches() -> None:
    assert not sec.check_secret(None, "viche-dummy-secret")
    assert not sec.check_login_secret(None, "viche-dummy-secret")


@pytest.mark.parametrize(
    "stored",
    ["$viche-sha256$", "$viche-sha256$AAAA$BBBB", "$viche-sha256$!!$??", "$viche-sha256$$"],
)
def test_malformed_login_hashes_match_nothing(stored: str) -> None:
    assert not sec.check_login_secret(stored, "anything")


def test_login_digest_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    secret = sec.new_secret()
    assert sec.check_login_secret(sec.hash_login_secret(secret), secret)
    assert len(calls) == 1


@given(st.text(max_size=64), st.text(max_size=64))
def test_any_text_checks_without_error(secret: str, given_text: str) -> None:
    stored = sec.hash_login_secret(secret)
    assert sec.check_login_secret(stored, given_text) == (secret == given_text)
