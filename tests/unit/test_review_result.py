"""Review fix: a published count is the discrete log in [0, total weight], not count + q."""

from __future__ import annotations

import pytest

from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.trustee import generate_trustee_key
from viche.errors import TallyError
from viche.protocol.election import Election, HomomorphicQuestion
from viche.protocol.tally import EncryptedTally, Result, check_result, make_partial_decryption
from viche.protocol.trustees import SingleItem, Trustees

G = RFC_3526_2048
RNG = SeededRandom("review-result")
X, X_PUB = generate_trustee_key(G, RNG)
ELECTION = Election(
    1,
    "",
    "",
    G,
    PublicKey(G, X_PUB.public_key),
    (HomomorphicQuestion(("a", "b"), False, 0, 1, "h"),),
    "RevewResuLt1234",
)
TRUSTEES = Trustees((SingleItem(X_PUB),))
Y = X_PUB.public_key


def _enc(m: int, r: int) -> Ciphertext:
    return Ciphertext(G.powg(r), G.mul(G.pow(Y, r), G.powg(m)))


TALLY = EncryptedTally(((_enc(2, 5), _enc(1, 7)),))
PD = {1: make_partial_decryption(ELECTION, TALLY, X, RNG)}


def test_true_counts_pass() -> None:
    check_result(ELECTION, TRUSTEES, TALLY, PD, Result(((2, 1),)))
    check_result(ELECTION, TRUSTEES, TALLY, PD, Result(((2, 1),)), total_weight=3)


def test_count_plus_q_is_refused() -> None:
    wrapped = Result(((2 + int(G.q), 1),))
    with pytest.raises(TallyError, match="outside") as info:
        check_result(ELECTION, TRUSTEES, TALLY, PD, wrapped)
    assert (info.value.where.question, info.value.where.answer) == (1, 1)
    assert str(info.value.where) == "question 1 / answer 1 / result"


def test_count_above_total_weight_is_refused() -> None:
    with pytest.raises(TallyError, match="total weight"):
        check_result(ELECTION, TRUSTEES, TALLY, PD, Result(((2, 1),)), total_weight=1)
