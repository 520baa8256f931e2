"""Randomness: from the operating system in production, seeded and reproducible in tests.

Every function that needs randomness takes a :class:`RandomSource` argument; nothing in
``viche.crypto`` reads a global generator.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Protocol

from gmpy2 import mpz


class RandomSource(Protocol):
    def randbelow(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        ...

    def token_bytes(self, n: int) -> bytes:
        """n uniform bytes."""
        ...


class SystemRandom:
    """The operating system's CSPRNG (``secrets``)."""

    def randbelow(self, n: int) -> int:
        return secrets.randbelow(n)

    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)

    def __repr__(self) -> str:
        return "SystemRandom()"


class SeededRandom:
    """A deterministic generator (SHA-256 in counter mode) for tests and reproducible demos.

    Never use it for real elections: whoever knows the seed knows every secret.
    """

    def __init__(self, seed: int | str | bytes) -> None:
        if isinstance(seed, int):
            seed = str(seed)
        if isinstance(seed, str):
            seed = seed.encode()
        self._key = hashlib.sha256(b"viche-seeded-random|" + seed).digest()
        self._counter = 0

    def token_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            self._counter += 1
            out += hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
        return bytes(out[:n])

    def randbelow(self, n: int) -> int:
        if n <= 0:
            raise ValueError("randbelow needs a positive bound")
        nbytes = (n.bit_length() + 7) // 8 + 8  # 64 extra bits make the bias negligible
        return int.from_bytes(self.token_bytes(nbytes), "big") % n

    def __repr__(self) -> str:
        return "SeededRandom(<seed hidden>)"


def random_zq(rng: RandomSource, q: mpz) -> mpz:
    """A uniform exponent in Z_q."""
    return mpz(rng.randbelow(int(q)))


DEFAULT_RANDOM: RandomSource = SystemRandom()
