"""Keys of "Single" trustees (specification 4.5 and 3.1.1, the "Single" protocol).

Public API:

* :class:`TrusteePublicKey` — ``X = g^x`` with a proof of knowledge of ``x`` (the
  ``trustee_public_key`` message; its JSON codec is in :mod:`viche.protocol.trustees`).
* :class:`TrusteePrivateKey` — the secret ``x`` in Z_q; its ``repr`` never shows the value.
* :func:`generate_trustee_key` — what ``belenios-tool setup generate-trustee-key`` does.
* :func:`check_trustee_public_key` — the server's check of a submitted key (membership + PoK).
* :func:`trustee_key_from_private` — the public key (with a fresh proof) of a known secret; the
  threshold ceremony uses it for the voutput of step 5.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from gmpy2 import mpz

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource, random_zq
from viche.crypto.schnorr import Proof, check_pok, prove_pok
from viche.errors import NOWHERE, Location


@dataclass(frozen=True)
class TrusteePublicKey:
    """A trustee's public key ``X = g^x`` with a Schnorr proof of knowledge of ``x``."""

    public_key: mpz
    pok: Proof


@dataclass(frozen=True, eq=False)
class TrusteePrivateKey:
    """A trustee's private key ``x`` in Z_q (a secret: hidden from ``repr``)."""

    value: mpz = field(repr=False)

    def __repr__(self) -> str:
        return "TrusteePrivateKey(<secret>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrusteePrivateKey):
            return NotImplemented
        return hmac.compare_digest(_fixed_bytes(self.value), _fixed_bytes(other.value))

    def __hash__(self) -> int:
        raise TypeError("a secret key is not hashable")

    def public_key(self, group: Group) -> mpz:
        return group.powg(self.value)


def _fixed_bytes(x: mpz) -> bytes:
    return int(x).to_bytes(512, "big")


def trustee_key_from_private(
    group: Group, private: TrusteePrivateKey, rng: RandomSource
) -> TrusteePublicKey:
    """The public key of ``private`` with a fresh proof of knowledge."""
    return TrusteePublicKey(
        public_key=group.powg(private.value), pok=prove_pok(group, private.value, rng)
    )


def generate_trustee_key(
    group: Group, rng: RandomSource
) -> tuple[TrusteePrivateKey, TrusteePublicKey]:
    """A fresh random key pair for a "Single" trustee (spec 4.5)."""
    private = TrusteePrivateKey(random_zq(rng, group.q))
    return private, trustee_key_from_private(group, private, rng)


def check_trustee_public_key(
    group: Group, tpk: TrusteePublicKey, where: Location = NOWHERE
) -> None:
    """Check that the key is a group element and that its proof of knowledge verifies.

    Raises :class:`~viche.errors.GroupMembershipError` or :class:`~viche.errors.ProofError`.
    """
    group.check_element(tpk.public_key, where=where.sub("public_key"))
    check_pok(group, tpk.public_key, tpk.pok, where=where.sub("pok"))
