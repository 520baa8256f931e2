"""Tally, shuffle, partial decryption and result messages: shapes, parsing and the checks
that do not need a whole election (the full flow is in test_protocol_flow.py)."""

from __future__ import annotations

import pytest
from gmpy2 import mpz

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.crypto.trustee import generate_trustee_key
from viche.errors import (
    GroupMembershipError,
    JsonFormatError,
    NumberFormatError,
    TallyError,
)
from viche.protocol.ballot import Ballot, CheckedBallot, Signature
from viche.protocol.codec import dumps
from viche.protocol.election import Election, HomomorphicQuestion, NonHomomorphicQuestion
from viche.protocol.shuffle import Shuffle
from viche.protocol.tally import (
    EncryptedTally,
    Owned,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
    check_partial_decryption,
    check_result,
    check_shuffle,
    compute_encrypted_tally,
    make_partial_decryption,
    merge_shuffled,
    nh_ciphertexts,
)
from viche.protocol.trustees import SingleItem, Trustees

G = RFC_3526_2048
RNG = SeededRandom("tally-unit")
X, X_PUB = generate_trustee_key(G, RNG)
ELECTION = Election(
    1,
    "",
    "",
    G,
    PublicKey(G, X_PUB.public_key),
    (
        HomomorphicQuestion(("a", "b"), False, 0, 1, "h"),
        NonHomomorphicQuestion(("x", "y"), "nh"),
    ),
    "TaiiyUnitTest12",
)
TRUSTEES = Trustees((SingleItem(X_PUB),))


def _ct(k: int) -> Ciphertext:
    return Ciphertext(G.powg(k), G.powg(k + 1))


def _tally() -> EncryptedTally:
    return EncryptedTally(((_ct(1), _ct(2)), (_ct(3), _ct(4), _ct(5))))


def _checked(weight: int) -> CheckedBallot:
    ballot = Ballot(
        ELECTION.uuid,
        ELECTION.fingerprint,
        G.g,
        (HAnswer((_ct(6), _ct(7)), (), (), None), NHAnswer(_ct(8), Proof(mpz(1), mpz(1)))),
        Signature("h", Proof(mpz(1), mpz(1))),
    )
    return CheckedBallot(ballot, b"", "t", "00", str(G.g), weight)


def test_sized_and_owned_roundtrip_and_refusals() -> None:
    h = "0f" * 32
    sized = SizedEncryptedTally(3, 7, h)
    raw = dumps(sized.to_json()).encode()
    assert raw == b'{"num_tallied":3,"total_weight":7,"encrypted_tally":"' + h.encode() + b'"}'
    assert SizedEncryptedTally.from_bytes(raw) == sized
    owned = Owned(2, h)
    assert Owned.from_bytes(dumps(owned.to_json()).encode()) == owned
    with pytest.raises(JsonFormatError):
        Owned.from_bytes(dumps({"owner": 0, "payload": h}).encode())
    with pytest.raises(JsonFormatError):
        Owned.from_bytes(dumps({"owner": 1, "payload": "XYZ"}).encode())
    with pytest.raises(JsonFormatError):
        SizedEncryptedTally.from_bytes(
            dumps({"num_tallied": -1, "total_weight": 0, "encrypted_tally": h}).encode()
        )


def test_tally_shape_and_membership() -> None:
    t = _tally()
    t.check_shape(ELECTION)
    t.check_members(G)
    with pytest.raises(TallyError):
        EncryptedTally(((_ct(1),), t.questions[1])).check_shape(ELECTION)
    with pytest.raises(TallyError):
        EncryptedTally(t.questions[:1]).check_shape(ELECTION)
    bad = EncryptedTally((t.questions[0], (Ciphertext(G.p - 1, G.g),)))
    with pytest.raises(GroupMembershipError) as err:
        bad.check_members(G)
    assert (err.value.where.question, err.value.where.answer) == (2, 1)
    assert str(err.value.where) == "question 2 / answer 1 / encrypted_tally / alpha"
    with pytest.raises(NumberFormatError):
        EncryptedTally.from_bytes(b'[[{"alpha":"01","beta":"1"}]]')


def test_nh_rows_need_weight_one() -> None:
    tally = compute_encrypted_tally(ELECTION, [_checked(1)])
    assert tally.questions[1] == (_ct(8),)
    with pytest.raises(TallyError, match="weight 2"):
        compute_encrypted_tally(ELECTION, [_checked(2)])


def test_unchecked_ballot_of_wrong_shape_is_refused() -> None:
    good = _checked(1)
    swapped = Ballot(
        good.ballot.election_uuid,
        good.ballot.election_hash,
        good.ballot.credential,
        good.ballot.answers[::-1],
        good.ballot.signature,
    )
    bad = CheckedBallot(swapped, b"", "t", "00", good.credential, 1)
    with pytest.raises(TallyError, match="does not fit"):
        compute_encrypted_tally(ELECTION, [bad])


def test_empty_tally_is_neutral() -> None:
    tally = compute_encrypted_tally(ELECTION, [])
    assert tally.questions == ((Ciphertext(mpz(1), mpz(1)),) * 2, ())


def test_shuffle_merge_and_check_shape() -> None:
    t = _tally()
    sh = Shuffle(((_ct(9), _ct(10), _ct(11)),), ())
    merged = merge_shuffled(ELECTION, t, sh)
    assert merged.questions[0] == t.questions[0]
    assert nh_ciphertexts(ELECTION, merged) == sh.ciphertexts
    with pytest.raises(TallyError):
        merge_shuffled(ELECTION, t, Shuffle(((_ct(9),),), ()))
    with pytest.raises(TallyError, match="0 proofs for 1 lists"):
        check_shuffle(ELECTION, t, sh)
    with pytest.raises(JsonFormatError, match="proofs"):
        Shuffle.from_json({"ciphertexts": [[]], "proofs": []})


def test_partial_decryption_shape_twins() -> None:
    t = _tally()
    pd = make_partial_decryption(ELECTION, t, X, RNG)
    check_partial_decryption(ELECTION, t, pd, X_PUB.public_key)
    short = PartialDecryption(pd.decryption_factors[:1], pd.decryption_proofs[:1])
    with pytest.raises(TallyError):
        check_partial_decryption(ELECTION, t, short, X_PUB.public_key)
    ragged = PartialDecryption(
        (pd.decryption_factors[0][:1], pd.decryption_factors[1]), pd.decryption_proofs
    )
    with pytest.raises(TallyError) as err:
        check_partial_decryption(ELECTION, t, ragged, X_PUB.public_key)
    assert err.value.where.question == 1
    assert str(err.value.where) == "question 1 / partial_decryption"
    nonmember = PartialDecryption(
        ((G.p - 1, *pd.decryption_factors[0][1:]), pd.decryption_factors[1]), pd.decryption_proofs
    )
    with pytest.raises(GroupMembershipError):
        check_partial_decryption(ELECTION, t, nonmember, X_PUB.public_key)


def test_result_shape_twins() -> None:
    t = _tally()
    pd = {1: make_partial_decryption(ELECTION, t, X, RNG)}
    with pytest.raises(TallyError, match="result rows"):
        check_result(ELECTION, TRUSTEES, t, pd, Result(((0, 0),)))
    with pytest.raises(TallyError, match="result entries"):
        check_result(ELECTION, TRUSTEES, t, pd, Result(((0,), ((0, 0),) * 3)))
    with pytest.raises(TallyError, match="expected a count"):
        check_result(ELECTION, TRUSTEES, t, pd, Result((((0,), (0,)), ((0, 0),) * 3)))
    with pytest.raises(TallyError, match="unknown trustee"):
        check_result(ELECTION, TRUSTEES, t, {1: pd[1], 2: pd[1]}, Result(((0, 0), ())))
    with pytest.raises(JsonFormatError):
        Result.from_bytes(b'{"result":[[-1]]}')
    with pytest.raises(JsonFormatError):
        Result.from_bytes(b'{"result":[[true]]}')
