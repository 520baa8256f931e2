"""The ballot's own text writer (``Ballot.text``, ``ballot_bytes``, the canonical-form check)
writes exactly what ``dumps(ballot.to_json())`` writes, for any ballot: any strings (quotes,
backslashes, control and non-ASCII characters), any numbers (0, negative, 2048-bit), both
kinds of answer, proof lists of any length, with and without a blank proof."""

from __future__ import annotations

import json

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.elgamal import Ciphertext
from viche.crypto.schnorr import Proof
from viche.errors import NonCanonicalError
from viche.protocol.ballot import Ballot, Signature, ballot_bytes, signature_hash
from viche.protocol.codec import dumps, to_bytes
from viche.protocol.messages import answer_text, answer_to_json, proof_text, proof_to_json

numbers = st.one_of(
    st.sampled_from([0, 1, -1, 2**2048 - 1, 2**256]),
    st.integers(min_value=-(2**64), max_value=2**2048),
).map(mpz)
texts = st.text(max_size=12)  # any code point but lone surrogates (not UTF-8 encodable)
proofs = st.builds(Proof, numbers, numbers)


def _ciphertext(alpha: mpz, beta: mpz, parsed: bool) -> Ciphertext:
    # a parsed ciphertext keeps the digits read; a made one writes them on demand
    if parsed:
        return Ciphertext.read(alpha, beta, str(alpha), str(beta))
    return Ciphertext(alpha, beta)


ciphertexts = st.builds(_ciphertext, numbers, numbers, st.booleans())
h_answers = st.builds(
    HAnswer,
    st.lists(ciphertexts, max_size=4).map(tuple),
    st.lists(st.lists(proofs, max_size=3).map(tuple), max_size=4).map(tuple),
    st.lists(proofs, max_size=4).map(tuple),
    st.none() | st.lists(proofs, max_size=3).map(tuple),
)
nh_answers = st.builds(NHAnswer, ciphertexts, proofs)
ballots = st.builds(
    Ballot,
    texts,
    texts,
    numbers,
    st.lists(h_answers | nh_answers, max_size=3).map(tuple),
    st.builds(Signature, texts, proofs),
)


@settings(max_examples=300, deadline=None)
@given(ballots)
def test_text_is_dumps_of_to_json(ballot: Ballot) -> None:
    expected = dumps(ballot.to_json())
    assert ballot.text() == expected
    assert ballot_bytes(ballot) == expected.encode("utf-8") == to_bytes(ballot.to_json())
    assert ballot.signature.text() == dumps(ballot.signature.to_json())
    for answer in ballot.answers:
        assert answer_text(answer) == dumps(answer_to_json(answer))
    assert proof_text(ballot.signature.proof) == dumps(proof_to_json(ballot.signature.proof))
    # the unsigned ballot is cut out of the bytes exactly as it is written on its own
    raw = ballot_bytes(ballot)
    assert signature_hash(ballot, raw) == signature_hash(ballot)


def test_lone_surrogate_fails_as_dumps_does() -> None:
    """A string that UTF-8 cannot write fails the same way in both writers."""
    ballot = Ballot("\ud800", "h", mpz(1), (), Signature("s", Proof(mpz(0), mpz(0))))
    with pytest.raises(UnicodeEncodeError):
        to_bytes(ballot.to_json())
    with pytest.raises(UnicodeEncodeError):
        ballot_bytes(ballot)


@settings(max_examples=200, deadline=None)
@given(ballots, st.integers(min_value=0, max_value=3))
def test_from_bytes_takes_the_canonical_bytes_only(ballot: Ballot, how: int) -> None:
    """What a ballot's bytes must be to parse: written back by the writer, byte for byte."""
    value = ballot.to_json()
    if how == 0:
        raw = to_bytes(value)
    elif how == 1:
        raw = json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()
    elif how == 2:
        raw = json.dumps(value).encode()
    else:
        raw = to_bytes(dict(reversed(value.items())))
    try:
        parsed = Ballot.from_bytes(raw)
    except NonCanonicalError:
        assert raw != to_bytes(value)
        return
    except Exception:  # numbers outside the protocol's syntax (negative): refused earlier
        assert any(n < 0 for n in _numbers(ballot))
        return
    assert raw == to_bytes(value) == ballot_bytes(parsed)


def _numbers(ballot: Ballot) -> list[mpz]:
    out = [ballot.credential, ballot.signature.proof.challenge, ballot.signature.proof.response]
    for a in ballot.answers:
        if isinstance(a, NHAnswer):
            out += [a.choices.alpha, a.choices.beta, a.proof.challenge, a.proof.response]
            continue
        out += [x for c in a.choices for x in (c.alpha, c.beta)]
        every = [*(p for ps in a.individual_proofs for p in ps), *a.overall_proof]
        every += list(a.blank_proof or ())
        out += [x for p in every for x in (p.challenge, p.response)]
    return out
