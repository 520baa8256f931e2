"""Round-trip and canonical-form laws of the protocol codecs, property-tested.

For every message M: ``dumps(M.from_json(loads(dumps(M.to_json()))).to_json())`` is the same
string, and any whitespace inserted into a canonical ballot is refused. Values here are
random numbers, not valid cryptography: the codecs must not care. A tally law checks the
homomorphic sum on real (small) elections.
"""

from __future__ import annotations

import json
import typing
from dataclasses import replace
from typing import Any

from gmpy2 import mpz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.credentials import credential_secret, generate_credential
from viche.crypto.elgamal import Ciphertext, PublicKey, decrypt_element, dlog_small
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof
from viche.errors import FormatError, Location, VicheError
from viche.protocol.ballot import (
    Ballot,
    Signature,
    ballot_bytes,
    check_ballot,
    make_ballot,
    signature_hash,
)
from viche.protocol.codec import dumps, loads
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)
from viche.protocol.messages import answer_from_json, answer_to_json
from viche.protocol.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    compute_encrypted_tally,
    last_ballots,
)

numbers = st.integers(min_value=0, max_value=2**2048).map(mpz)
cts = st.builds(Ciphertext, numbers, numbers)
proofs = st.builds(Proof, numbers, numbers)
texts = st.text(max_size=12)
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
uuids = st.text(alphabet=B58, min_size=14, max_size=22)


@st.composite
def h_answers(draw: st.DrawFn) -> HAnswer:
    n = draw(st.integers(1, 4))
    blank = draw(st.booleans())
    return HAnswer(
        tuple(draw(st.lists(cts, min_size=n, max_size=n))),
        tuple((draw(proofs), draw(proofs)) for _ in range(n)),
        tuple(draw(st.lists(proofs, min_size=1, max_size=3))),
        (draw(proofs), draw(proofs)) if blank else None,
    )


answers = st.one_of(h_answers(), st.builds(NHAnswer, cts, proofs))


@st.composite
def ballots(draw: st.DrawFn) -> Ballot:
    return Ballot(
        draw(uuids),
        draw(st.text(alphabet=B58 + "+/", min_size=43, max_size=43)),
        draw(numbers),
        tuple(draw(st.lists(answers, min_size=1, max_size=3))),
        Signature(draw(st.text(alphabet=B58, min_size=43, max_size=43)), draw(proofs)),
    )


def _same(obj: Any) -> None:
    assert dumps(obj) == dumps(loads(dumps(obj)))


@settings(max_examples=60, deadline=None)
@given(answers)
def test_answer_roundtrip(answer: HAnswer | NHAnswer) -> None:
    text = dumps(answer_to_json(answer))
    back = answer_from_json(loads(text), Location(path=("a",)))
    assert back == answer
    assert dumps(answer_to_json(back)) == text


@settings(max_examples=40, deadline=None)
@given(ballots())
def test_ballot_roundtrip_and_signature_hash(ballot: Ballot) -> None:
    raw = ballot_bytes(ballot)
    assert Ballot.from_bytes(raw) == ballot
    # The signature hash does not depend on the signature.
    other = replace(ballot, signature=Signature("x", Proof(mpz(1), mpz(2))))
    assert signature_hash(other) == signature_hash(ballot)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ballots(), st.data())
def test_whitespace_anywhere_is_refused(ballot: Ballot, data: st.DataObject) -> None:
    raw = ballot_bytes(ballot)
    text = raw.decode()
    # Positions just after a structural character: inserting a space keeps valid JSON.
    spots = [i + 1 for i, ch in enumerate(text) if ch in "{[,:"]
    pos = data.draw(st.sampled_from(spots))
    spaced = (text[:pos] + data.draw(st.sampled_from([" ", "\n", "\t"])) + text[pos:]).encode()
    try:
        Ballot.from_bytes(spaced)
    except FormatError:
        return
    raise AssertionError("a non-canonical ballot was accepted")


@st.composite
def questions(draw: st.DrawFn) -> HomomorphicQuestion | NonHomomorphicQuestion:
    ans = tuple(draw(st.lists(texts, min_size=1, max_size=5)))
    if draw(st.booleans()):
        return NonHomomorphicQuestion(ans, draw(texts))
    hi = draw(st.integers(0, len(ans)))
    lo = draw(st.integers(0, hi))
    return HomomorphicQuestion(ans, draw(st.booleans()), lo, hi, draw(texts))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(questions(), min_size=1, max_size=4),
    uuids,
    texts,
    texts,
    st.none() | texts,
    st.none() | texts,
)
def test_election_roundtrip(
    qs: list[Any], uuid: str, desc: str, name: str, admin: str | None, ca: str | None
) -> None:
    group = RFC_3526_2048  # has an embedding, so NH questions are allowed
    e = Election(1, desc, name, group, PublicKey(group, mpz(4)), tuple(qs), uuid, admin, ca)
    again = Election.from_bytes(e.raw)
    assert again.raw == e.raw == dumps(again.to_json()).encode()
    assert again.fingerprint == e.fingerprint


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 2**64), min_size=1, max_size=8, unique=True), st.booleans(), st.data()
)
def test_credentials_roundtrip(values: list[int], weighted: bool, data: st.DataObject) -> None:
    if weighted:
        ws = data.draw(st.lists(st.integers(1, 1000), min_size=len(values), max_size=len(values)))
        creds = PublicCredentials.build(
            [(mpz(v), w) for v, w in zip(values, ws, strict=True)], weighted=True
        )
        assert creds.total_weight == sum(ws)
    else:
        creds = PublicCredentials.build([mpz(v) for v in values])
        assert creds.total_weight == len(values)
    assert PublicCredentials.from_bytes(creds.raw).to_json() == creds.to_json()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(cts, max_size=4), min_size=1, max_size=3))
def test_tally_and_partial_decryption_roundtrip(rows: list[list[Ciphertext]]) -> None:
    t = EncryptedTally(tuple(tuple(r) for r in rows))
    assert EncryptedTally.from_bytes(t.to_bytes()) == t
    pd = PartialDecryption(
        tuple(tuple(c.alpha for c in r) for r in rows),
        tuple(tuple(Proof(c.beta, c.alpha) for c in r) for r in rows),
    )
    raw = dumps(pd.to_json()).encode()
    assert PartialDecryption.from_bytes(raw) == pd
    _same(pd.to_json())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(st.integers(0, 10**6), min_size=1, max_size=5),
            st.lists(st.lists(st.integers(0, 255), min_size=1, max_size=4), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_result_roundtrip(rows: list[Any]) -> None:
    raw = dumps({"result": rows}).encode()
    assert dumps(Result.from_bytes(raw).to_json()).encode() == raw
    assert json.loads(raw) == Result.from_bytes(raw).to_json()


# ---------------------------------------------------------------------- laws of the tally


class _Fake:
    """The two attributes of CheckedBallot that last_ballots reads."""

    def __init__(self, credential: str, n: int) -> None:
        self.credential = credential
        self.n = n


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from("abcde"), max_size=20))
def test_last_ballots_keeps_the_last_of_each_credential(creds: list[str]) -> None:
    cast = [_Fake(c, i) for i, c in enumerate(creds)]
    kept = typing.cast(list[_Fake], last_ballots(cast))  # type: ignore[arg-type]
    assert sorted(b.credential for b in kept) == sorted(set(creds))
    for b in kept:
        assert all(o.n <= b.n for o in cast if o.credential == b.credential)
    assert [b.n for b in kept] == sorted(b.n for b in kept)  # archive order of the last ones
    assert last_ballots(kept) == kept  # type: ignore[arg-type,comparison-overlap]


@settings(max_examples=5, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 4)), min_size=1, max_size=4))
def test_tally_decrypts_to_weighted_sum(votes: list[tuple[int, int]]) -> None:
    """For a yes/no question: Π ct^w decrypts to Σ w·m."""
    g = BELENIOS_2048
    rng = SeededRandom(repr(votes))
    x = mpz(rng.randbelow(int(g.q)))
    e = Election(
        1,
        "",
        "",
        g,
        PublicKey(g, g.powg(x)),
        (HomomorphicQuestion(("y",), False, 0, 1, "q"),),
        "PropertyTa11y99",
    )
    privs = [generate_credential(rng) for _ in votes]
    pubs = [g.powg(credential_secret(g, p, e.uuid)) for p in privs]
    creds = PublicCredentials.build(
        [(c, w) for c, (_, w) in zip(pubs, votes, strict=True)], weighted=True
    )
    checked = [
        check_ballot(e, ballot_bytes(make_ballot(e, e.public_key, p, [[m]], rng)), creds)
        for p, (m, _) in zip(privs, votes, strict=True)
    ]
    tally = compute_encrypted_tally(e, checked)
    total = sum(w for _, w in votes)
    got = dlog_small(g, decrypt_element(g, x, tally.questions[0][0]), total)
    assert got == sum(m * w for m, w in votes)


# ---------------------------------------------------------------------- every byte counts

_G = BELENIOS_2048
_RNG = SeededRandom("every-digit")
_X = mpz(_RNG.randbelow(int(_G.q)))
_E = Election(
    1,
    "",
    "",
    _G,
    PublicKey(_G, _G.powg(_X)),
    (
        HomomorphicQuestion(("a", "b", "c"), False, 1, 2, "q1"),
        HomomorphicQuestion(("y", "n"), True, 1, 1, "q2"),
    ),
    "EveryDigit12345",
)
_PRIV = generate_credential(_RNG)
_CREDS = PublicCredentials.build([_G.powg(credential_secret(_G, _PRIV, _E.uuid))])
_RAW = ballot_bytes(make_ballot(_E, _E.public_key, _PRIV, [[0, 1, 1], [0, 0, 1]], _RNG))
_DIGITS = [i for i, ch in enumerate(_RAW) if 0x30 <= ch <= 0x39]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(_DIGITS), st.integers(1, 9))
def test_changing_any_digit_of_a_valid_ballot_is_caught(pos: int, delta: int) -> None:
    """Whatever number (or uuid digit) is altered, some check of check_ballot fails."""
    check_ballot(_E, _RAW, _CREDS)
    digit = (_RAW[pos] - 0x30 + delta) % 10
    altered = _RAW[:pos] + bytes([0x30 + digit]) + _RAW[pos + 1 :]
    try:
        check_ballot(_E, altered, _CREDS)
    except VicheError:
        return
    raise AssertionError(f"altered digit at byte {pos} was accepted")
