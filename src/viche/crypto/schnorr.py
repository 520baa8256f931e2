"""Schnorr-style proofs of knowledge of a discrete log (specification 4.5, 4.6.1, 4.14).

All three share one shape: commit ``A = g^w``, challenge ``c = H(prefix|...|A) mod q``,
response ``r = w - x*c mod q``; the verifier recomputes ``A = g^r * X^c`` and the hash.
They differ only in the string hashed, so one pair of functions serves them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gmpy2 import mpz

from viche.crypto.fastexp import precomputed_product_text
from viche.crypto.group import Group
from viche.crypto.hashing import hash_to_zq
from viche.crypto.rng import RandomSource, random_zq
from viche.errors import NOWHERE, Location, ProofError


@dataclass(frozen=True)
class Proof:
    """A ``{"challenge", "response"}`` pair, both in Z_q."""

    challenge: mpz
    response: mpz


#: Builds the hashed string from the decimal text of the commitment A (the statement is
#: captured by the closure).
ChallengeString = Callable[[str], str]


def schnorr_prove(
    group: Group, secret: mpz, challenge_string: ChallengeString, rng: RandomSource
) -> Proof:
    w = random_zq(rng, group.q)
    commitment = group.powg(w)
    c = hash_to_zq(challenge_string(str(commitment)), group.q)
    return Proof(challenge=c, response=(w - secret * c) % group.q)


def schnorr_commitment(group: Group, public: mpz, proof: Proof) -> str:
    """The decimal text of ``g^response * public^challenge``: the commitment the verifier
    re-derives and hashes (read from the active
    :func:`~viche.crypto.fastexp.precomputed_powers` block when it holds it)."""
    c, s = proof.challenge, proof.response
    known = precomputed_product_text(group.g, s, public, c, 0, group.p)
    if known is not None:
        return known
    return str(group.mul(group.powg(s), group.pow(public, c)))


def schnorr_check(
    group: Group, public: mpz, proof: Proof, challenge_string: ChallengeString
) -> bool:
    if not (0 <= proof.challenge < group.q and 0 <= proof.response < group.q):
        return False
    commitment = schnorr_commitment(group, public, proof)
    return hash_to_zq(challenge_string(commitment), group.q) == proof.challenge


# ---------------------------------------------------------------------- the three uses


def pok_string(group: Group, public_key: mpz) -> ChallengeString:
    """Trustee proof of knowledge: ``pok|GROUP|X|A`` (spec 4.5)."""
    return lambda a: f"pok|{group.name}|{public_key}|{a}"


def sigmsg_string(message: str) -> ChallengeString:
    """Signed message of the threshold PKI: ``sigmsg|M|A`` (spec 4.6.1)."""
    return lambda a: f"sigmsg|{message}|{a}"


def ballot_signature_string(ballot_hash: str) -> ChallengeString:
    """Ballot signature: ``sig|h|A`` (spec 4.14)."""
    return lambda a: f"sig|{ballot_hash}|{a}"


def prove_pok(group: Group, secret: mpz, rng: RandomSource) -> Proof:
    return schnorr_prove(group, secret, pok_string(group, group.powg(secret)), rng)


def check_pok(group: Group, public_key: mpz, proof: Proof, where: Location = NOWHERE) -> None:
    if not schnorr_check(group, public_key, proof, pok_string(group, public_key)):
        raise ProofError("proof of knowledge of the trustee key does not verify", where=where)


def sign_message(group: Group, signing_key: mpz, message: str, rng: RandomSource) -> Proof:
    return schnorr_prove(group, signing_key, sigmsg_string(message), rng)


def check_message_signature(
    group: Group, verification_key: mpz, message: str, proof: Proof, where: Location = NOWHERE
) -> None:
    if not schnorr_check(group, verification_key, proof, sigmsg_string(message)):
        raise ProofError("signature of the message does not verify", where=where)


def sign_ballot(group: Group, credential_secret: mpz, ballot_hash: str, rng: RandomSource) -> Proof:
    return schnorr_prove(group, credential_secret, ballot_signature_string(ballot_hash), rng)


def check_ballot_signature(
    group: Group, public_credential: mpz, ballot_hash: str, proof: Proof, where: Location = NOWHERE
) -> None:
    if not schnorr_check(group, public_credential, proof, ballot_signature_string(ballot_hash)):
        raise ProofError("ballot signature does not verify", where=where)
