"""Voter credentials (specification 4.8, FORMAT.md section 4).

A private credential is ``XXX-XXX-XXX-XXX-XXX``: 14 random base58 characters and a check
character ``53 - (n mod 53)`` (never reduced: n ≡ 0 gives 53, i.e. ``v``), where n is the
first 14 characters read as a big-endian base-58 number. The secret exponent is
PBKDF2-HMAC-SHA256 of the credential *with its dashes* (salt: election uuid, 1000
iterations, 32 bytes) read big-endian mod q; the public credential is g^s.

Private credentials are secrets: functions here take and return plain ``str`` for
interoperability, and :class:`PrivateCredential` wraps one so that it never shows in a
repr or a log line.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from gmpy2 import mpz

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource
from viche.errors import CredentialFormatError

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_DIGIT = {ch: i for i, ch in enumerate(ALPHABET)}
_RANDOM_CHARS = 14
_PBKDF2_ITERATIONS = 1000


def checksum_char(body: str) -> str:
    """The check character of 14 base58 characters: ``ALPHABET[53 - (n mod 53)]``."""
    n = 0
    for ch in body:
        n = n * 58 + _DIGIT[ch]
    return ALPHABET[53 - n % 53]


def _dashed(chars: str) -> str:
    return "-".join(chars[i : i + 3] for i in range(0, 15, 3))


def generate_credential(rng: RandomSource) -> str:
    """A fresh private credential ``XXX-XXX-XXX-XXX-XXX``."""
    body = "".join(ALPHABET[rng.randbelow(58)] for _ in range(_RANDOM_CHARS))
    return _dashed(body + checksum_char(body))


def check_credential(text: str) -> str:
    """Validate a private credential with or without dashes; return the dashed form.

    Surrounding whitespace is ignored. Raises :class:`CredentialFormatError` naming the
    problem (length, alphabet or checksum); the message never repeats the credential.
    """
    stripped = text.strip()
    if len(stripped) == 19:
        if any(stripped[i] != "-" for i in (3, 7, 11, 15)):
            raise CredentialFormatError(
                "wrong format: expected dashes at positions 4, 8, 12 and 16"
            )
        chars = stripped.replace("-", "", 4)
    elif len(stripped) == 15:
        chars = stripped
    else:
        raise CredentialFormatError(
            f"wrong length: {len(stripped)} characters, expected 15 (or 19 with dashes)"
        )
    bad = [i + 1 for i, ch in enumerate(chars) if ch not in _DIGIT]
    if bad:
        raise CredentialFormatError(
            f"wrong alphabet: character(s) at position(s) {bad} are not base58"
        )
    if chars[14] != checksum_char(chars[:14]):
        raise CredentialFormatError("wrong checksum: the last character does not match")
    return _dashed(chars)


def credential_secret(group: Group, credential: str, uuid: str) -> mpz:
    """``s = PBKDF2-HMAC-SHA256(dashed credential, uuid, 1000, 32 bytes) mod q``."""
    dashed = check_credential(credential)
    key = hashlib.pbkdf2_hmac(
        "sha256", dashed.encode("ascii"), uuid.encode("utf-8"), _PBKDF2_ITERATIONS, 32
    )
    return mpz(int.from_bytes(key, "big")) % group.q


def public_credential(group: Group, secret: mpz) -> mpz:
    """``g^s``: what the server and the public record see."""
    return group.powg(secret)


@dataclass(frozen=True, eq=False)
class PrivateCredential:
    """A validated private credential whose text never appears in a repr."""

    text: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", check_credential(self.text))

    @classmethod
    def generate(cls, rng: RandomSource) -> PrivateCredential:
        return cls(generate_credential(rng))

    def secret(self, group: Group, uuid: str) -> mpz:
        return credential_secret(group, self.text, uuid)

    def public(self, group: Group, uuid: str) -> mpz:
        return public_credential(group, self.secret(group, uuid))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateCredential):
            return NotImplemented
        return hmac.compare_digest(self.text.encode(), other.text.encode())

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return "PrivateCredential(<hidden>)"

    __str__ = __repr__
