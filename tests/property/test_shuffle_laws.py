"""Laws of the CHVote shuffle (spec section 6), property-tested with Hypothesis.

* a shuffle of any small list verifies and decrypts to the same multiset of plaintexts, in
  RFC-3526 with NH-encoded vectors and in the small test group TEST_128 with exponents;
* shuffles compose: a shuffle of a shuffle verifies against its own input;
* failure twin: replacing one shuffled ciphertext by an encryption of another plaintext, or
  checking against another input list, is always rejected;
* the ``shuffle`` codec round-trips any numbers byte for byte and refuses non-canonical ones.

2047-bit exponents are slow, so the RFC-3526 properties run very few, short examples; the
laws that hold in any group run many in TEST_128 (tests/support/groups.py).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from support.groups import TEST_128
from viche.crypto.elgamal import (
    Ciphertext,
    PublicKey,
    decrypt_element,
    encrypt_element,
    encrypt_exponent,
    group_encode,
)
from viche.crypto.group import RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom
from viche.crypto.shuffle import ShuffleProof, check_shuffle_proof, shuffle_and_prove
from viche.errors import FormatError, ProofError
from viche.protocol.codec import dumps, loads
from viche.protocol.shuffle import Shuffle

FEW = settings(max_examples=8, deadline=None)
VERY_FEW = settings(max_examples=3, deadline=None)
MANY = settings(max_examples=50, deadline=None)
seeds = st.integers(min_value=0, max_value=2**32)


def _key(group: Group, seed: int) -> tuple[mpz, PublicKey]:
    x = mpz(SeededRandom(f"key|{seed}").randbelow(int(group.q) - 1) + 1)
    return x, PublicKey(group, group.powg(x))


def _plain(group: Group, x: mpz, cts: tuple[Ciphertext, ...] | list[Ciphertext]) -> Counter[mpz]:
    return Counter(decrypt_element(group, x, c) for c in cts)


@MANY
@given(values=st.lists(st.integers(min_value=0, max_value=5), max_size=5), seed=seeds)
def test_shuffle_verifies_and_keeps_the_multiset(values: list[int], seed: int) -> None:
    group = TEST_128
    x, pk = _key(group, seed)
    rng = SeededRandom(f"shuffle|{seed}")
    cts = [encrypt_exponent(pk, v, rng)[0] for v in values]
    out, proof = shuffle_and_prove(pk, "φ-law", cts, rng)
    check_shuffle_proof(pk, "φ-law", cts, out, proof)
    assert _plain(group, x, out) == _plain(group, x, cts)
    # composition: a second shuffler on top of the first
    out2, proof2 = shuffle_and_prove(pk, "φ-law", out, rng)
    check_shuffle_proof(pk, "φ-law", out, out2, proof2)
    assert _plain(group, x, out2) == _plain(group, x, cts)


@VERY_FEW
@given(
    vectors=st.lists(
        st.lists(st.integers(min_value=0, max_value=255), min_size=2, max_size=2),
        min_size=1,
        max_size=3,
    ),
    seed=seeds,
)
def test_shuffle_verifies_and_keeps_the_multiset_rfc(vectors: list[list[int]], seed: int) -> None:
    group = RFC_3526_2048
    x, pk = _key(group, seed)
    rng = SeededRandom(f"shuffle-rfc|{seed}")
    cts = [encrypt_element(pk, group_encode(group, v), rng)[0] for v in vectors]
    out, proof = shuffle_and_prove(pk, "φ", cts, rng)
    check_shuffle_proof(pk, "φ", cts, out, proof)
    assert _plain(group, x, out) == _plain(group, x, cts)


@MANY
@given(
    values=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=5),
    position=st.integers(min_value=0, max_value=4),
    seed=seeds,
)
def test_a_changed_plaintext_is_always_rejected(
    values: list[int], position: int, seed: int
) -> None:
    group = TEST_128
    _, pk = _key(group, seed)
    rng = SeededRandom(f"twin|{seed}")
    cts = [encrypt_exponent(pk, v, rng)[0] for v in values]
    out, proof = shuffle_and_prove(pk, "φ", cts, rng)
    i = position % len(values)
    forged = list(out)
    forged[i] = encrypt_exponent(pk, 6, rng)[0]  # 6 is never among the inputs
    with pytest.raises(ProofError, match="challenge"):
        check_shuffle_proof(pk, "φ", cts, forged, proof)
    other_input = list(cts)
    other_input[i] = encrypt_exponent(pk, 6, rng)[0]
    with pytest.raises(ProofError, match="challenge"):
        check_shuffle_proof(pk, "φ", other_input, out, proof)


# ---------------------------------------------------------------------- codec

numbers = st.integers(min_value=0, max_value=2**2100).map(mpz)


@st.composite
def shuffles(draw: st.DrawFn) -> Shuffle:
    n = draw(st.integers(min_value=0, max_value=3))
    rows = draw(st.integers(min_value=0, max_value=2))

    def vec(k: int) -> tuple[mpz, ...]:
        return tuple(draw(numbers) for _ in range(k))

    proofs = tuple(
        ShuffleProof(
            t=(draw(numbers), draw(numbers), draw(numbers)),
            t4=(draw(numbers), draw(numbers)),
            t_hat=vec(n),
            s=(draw(numbers), draw(numbers), draw(numbers), draw(numbers)),
            s_hat=vec(n),
            s_prime=vec(n),
            commitments=vec(n),
            chained=vec(n),
        )
        for _ in range(rows)
    )
    cts = tuple(
        tuple(Ciphertext(draw(numbers), draw(numbers)) for _ in range(n)) for _ in range(rows)
    )
    return Shuffle(cts, proofs)


@settings(max_examples=60, deadline=None)
@given(shuffle=shuffles())
def test_codec_round_trips_byte_for_byte(shuffle: Shuffle) -> None:
    raw = shuffle.to_bytes()
    back = Shuffle.from_bytes(raw)
    assert back == shuffle
    assert back.to_bytes() == raw
    assert b" " not in raw


@settings(max_examples=30, deadline=None)
@given(shuffle=shuffles(), pad=st.sampled_from(["0", " ", "+"]))
def test_codec_refuses_non_canonical_numbers(shuffle: Shuffle, pad: str) -> None:
    if not shuffle.proofs:
        shuffle = dataclasses.replace(
            shuffle,
            ciphertexts=((),),
            proofs=(
                ShuffleProof(
                    (mpz(1), mpz(2), mpz(3)), (mpz(4), mpz(5)), (), (mpz(6),) * 4, (), (), (), ()
                ),
            ),
        )
    doc = loads(dumps(shuffle.to_json()))
    doc["proofs"][0][1][0] = pad + doc["proofs"][0][1][0]
    with pytest.raises(FormatError):
        Shuffle.from_json(doc)
