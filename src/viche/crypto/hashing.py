"""Hash conventions of Belenios 2.0 (FORMAT.md section 0 and 6)."""

from __future__ import annotations

import base64
import hashlib
import re

from gmpy2 import mpz


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256: names archive members and payload references."""
    return hashlib.sha256(data).hexdigest()


_SHA256_HEX = re.compile("[0-9a-f]{64}")


def is_sha256_hex(text: str) -> bool:
    """Whether ``text`` is what :func:`sha256_hex` returns: 64 lower-case hex digits."""
    return _SHA256_HEX.fullmatch(text) is not None


def b64_sha256(data: bytes) -> str:
    """Standard Base64 of SHA-256 with the ``=`` padding removed (43 characters): the
    election fingerprint, the ballot signature hash and the smart ballot tracker."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii").rstrip("=")


def b64_of_sha256_hex(hex_digest: str) -> str:
    """:func:`b64_sha256`'s form of a digest given as :func:`sha256_hex` gives it."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii").rstrip("=")


def hash_to_int(text: str) -> mpz:
    """SHA-256 of an ASCII string read as a 256-bit big-endian integer."""
    return mpz(int.from_bytes(hashlib.sha256(text.encode("ascii")).digest(), "big"))


def hash_to_zq(text: str, q: mpz) -> mpz:
    """A challenge: SHA-256 of an ASCII string, big-endian, reduced mod q."""
    return hash_to_int(text) % q
