from __future__ import annotations

import json
from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group, group_by_name
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import (
    Proof,
    check_message_signature,
    check_pok,
    prove_pok,
    sign_message,
)
from viche.errors import Location, ProofError


@pytest.mark.parametrize("group", [BELENIOS_2048, RFC_3526_2048], ids=lambda g: g.name)
def test_pok_roundtrip_and_tamper(group: Group, rng: SeededRandom) -> None:
    x = mpz(rng.randbelow(int(group.q)))
    X = group.powg(x)
    proof = prove_pok(group, x, rng)
    check_pok(group, X, proof)
    with pytest.raises(ProofError, match="proof of knowledge"):
        check_pok(
            group,
            X,
            Proof(proof.challenge, (proof.response + 1) % group.q),
            where=Location(path=("t1",)),
        )
    with pytest.raises(ProofError):
        check_pok(group, group.mul(X, group.g), proof)


def test_signed_message_roundtrip(rng: SeededRandom) -> None:
    g = BELENIOS_2048
    sk = mpz(rng.randbelow(int(g.q)))
    sig = sign_message(g, sk, '{"a":1}', rng)
    check_message_signature(g, g.powg(sk), '{"a":1}', sig)
    with pytest.raises(ProofError):
        check_message_signature(g, g.powg(sk), '{"a":2}', sig)


def test_pok_of_belenios_tool_trustee_keys(reference_dir: Path) -> None:
    """Every trustee public key that belenios-tool wrote verifies here."""
    for pub in sorted(reference_dir.glob("*/secrets/*.pubkey")):
        election = json.loads((pub.parent.parent / "setup" / "election.json").read_text())
        group = group_by_name(election["group"])
        data = json.loads(pub.read_text())
        proof = Proof(mpz(data["pok"]["challenge"]), mpz(data["pok"]["response"]))
        check_pok(group, mpz(data["public_key"]), proof, where=Location(file=str(pub)))
