"""Review fix: make-election checks the trustees in the election's group."""

from __future__ import annotations

import pytest

from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.trustee import TrusteePublicKey, generate_trustee_key
from viche.errors import CryptoError, ProofError
from viche.protocol.election import ElectionTemplate, HomomorphicQuestion
from viche.protocol.trustees import SingleItem, Trustees
from viche.service.setup import make_election

TEMPLATE = ElectionTemplate("d", "n", (HomomorphicQuestion(("a", "b"), False, 0, 1, "q"),))
UUID = "RevewSetup12345"


def test_trustees_of_the_same_group_make_an_election() -> None:
    _, pub = generate_trustee_key(BELENIOS_2048, SeededRandom("review-setup"))
    election = make_election(BELENIOS_2048, UUID, TEMPLATE, Trustees((SingleItem(pub),)))
    assert election.public_key.y == pub.public_key


def test_trustees_of_another_group_are_refused() -> None:
    _, pub = generate_trustee_key(BELENIOS_2048, SeededRandom("review-setup"))
    with pytest.raises(CryptoError) as info:
        make_election(RFC_3526_2048, UUID, TEMPLATE, Trustees((SingleItem(pub),)))
    assert str(info.value.where).startswith("trustees[0]")


def test_trustee_key_with_a_bad_proof_is_refused() -> None:
    _, pub = generate_trustee_key(BELENIOS_2048, SeededRandom("review-setup"))
    forged = TrusteePublicKey(
        pub.public_key, type(pub.pok)(pub.pok.challenge, pub.pok.response + 1)
    )
    with pytest.raises(ProofError):
        make_election(BELENIOS_2048, UUID, TEMPLATE, Trustees((SingleItem(forged),)))
