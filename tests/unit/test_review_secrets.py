"""Review fixes: messages and keys holding secrets compare in constant time
(hmac.compare_digest), are not hashable, and never show their secret in a repr."""

from __future__ import annotations

import hmac
from collections.abc import Callable

import pytest
from gmpy2 import mpz

from viche.crypto.group import BELENIOS_2048
from viche.crypto.trustee import TrusteePrivateKey
from viche.errors import Location, NumberFormatError
from viche.protocol.channels import derive_keys
from viche.protocol.codec import loads
from viche.protocol.trustees import (
    ChannelMsg,
    DecryptionKey,
    RawPolynomial,
    SecretShare,
    private_key_from_file,
)

SECRET = mpz(123456789123456789)

MAKERS: list[Callable[[mpz], object]] = [
    SecretShare,
    DecryptionKey,
    lambda v: RawPolynomial((mpz(7), v)),
    lambda v: ChannelMsg(mpz(5), f'{{"secret":"{v}"}}'),
]


@pytest.fixture
def digest_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize("make", MAKERS)
def test_secret_messages_compare_in_constant_time(
    make: Callable[[mpz], object], digest_calls: list[int]
) -> None:
    assert make(SECRET) == make(SECRET)
    assert make(SECRET) != make(SECRET + 1)
    assert len(digest_calls) == 2
    with pytest.raises(TypeError):
        hash(make(SECRET))
    assert str(SECRET) not in repr(make(SECRET))


def test_channel_keys_compare_in_constant_time(digest_calls: list[int]) -> None:
    a = derive_keys(BELENIOS_2048, "1" * 22)
    b = derive_keys(BELENIOS_2048, "1" * 22)
    c = derive_keys(BELENIOS_2048, "2" * 22)
    assert a == b
    assert a != c
    assert len(digest_calls) == 2
    with pytest.raises(TypeError):
        hash(a)
    assert str(a.signing_key) not in repr(a)
    assert str(a.decryption_key) not in repr(a)


# ---------------------------------------------------------------------- error messages

_DIGITS = "0123456789012345678901234567890"


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (lambda t: private_key_from_file(t, Location(file="k.privkey")), f'"{_DIGITS}"'),
        (
            lambda t: SecretShare.from_json(loads(t), Location(path=("secret",))),
            f'{{"secret":"{_DIGITS}"}}',
        ),
        (
            lambda t: DecryptionKey.from_json(loads(t), Location(path=("dkey",))),
            f'{{"decryption_key":"{_DIGITS}x"}}',
        ),
        (
            lambda t: RawPolynomial.from_json(loads(t), Location(path=("poly",))),
            f'{{"polynomial":["1","{_DIGITS} "]}}',
        ),
    ],
)
def test_malformed_secret_numbers_are_not_quoted(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(NumberFormatError) as info:
        parse(text)
    assert "1234567" not in str(info.value)
    assert str(info.value.where)


def test_well_formed_private_key_still_parses() -> None:
    assert private_key_from_file('"123456789"\n') == TrusteePrivateKey(mpz(123456789))


def test_or_prove_does_not_name_the_true_branch() -> None:
    from viche.crypto.elgamal import Ciphertext, PublicKey
    from viche.crypto.proofs import iprove
    from viche.crypto.rng import SeededRandom
    from viche.errors import BallotShapeError

    g = BELENIOS_2048
    pk = PublicKey(g, g.powg(mpz(5)))
    ct = Ciphertext(g.powg(mpz(3)), g.powg(mpz(4)))
    with pytest.raises(BallotShapeError) as info:
        iprove(pk, "S", ct, mpz(3), 7, (0, 1), SeededRandom("b"))
    assert "7" not in info.value.message
