"""Election identifiers (``setup generate-token``): base58 tokens, 14 characters by default."""

from __future__ import annotations

from viche.crypto.rng import RandomSource
from viche.errors import UsageError
from viche.protocol.election import BASE58_ALPHABET as BASE58

DEFAULT_LENGTH = 14


def generate_token(rng: RandomSource, length: int = DEFAULT_LENGTH) -> str:
    """A uniform token over the base58 alphabet (about 5.86 bits per character)."""
    if length < 1:
        raise UsageError(f"a token needs at least one character, got length {length}")
    return "".join(BASE58[rng.randbelow(len(BASE58))] for _ in range(length))
