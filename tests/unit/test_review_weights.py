"""Review fixes: voter weights are bounded, and only allowed with homomorphic questions."""

from __future__ import annotations

from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.crypto.credentials import public_credential
from viche.crypto.elgamal import PublicKey
from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.crypto.trustee import generate_trustee_key
from viche.errors import Location, ProtocolError, UsageError
from viche.protocol.election import (
    MAX_TOTAL_WEIGHT,
    MAX_WEIGHT,
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)
from viche.protocol.trustees import SingleItem, Trustees
from viche.service.archive import check_setup
from viche.service.credentials import parse_voters, read_public_credentials

VOTERS = Location(file="voters.txt")


def test_weights_up_to_the_bound_are_accepted() -> None:
    creds = PublicCredentials.from_json(["5", f"7,{MAX_WEIGHT}"])
    assert creds.total_weight == MAX_WEIGHT + 1


@pytest.mark.parametrize("weight", [str(MAX_WEIGHT + 1), "9" * 2000, "9" * 5000])
def test_a_weight_over_the_bound_is_refused(weight: str) -> None:
    with pytest.raises(ProtocolError, match="weight") as info:
        PublicCredentials.from_json(["5", f"7,{weight}"])
    assert str(info.value.where) == "credentials[1]"


def test_total_weight_is_bounded() -> None:
    n = MAX_TOTAL_WEIGHT // MAX_WEIGHT
    fits = [f"{k},{MAX_WEIGHT}" for k in range(2, n + 2)]
    assert PublicCredentials.from_json(fits).total_weight == MAX_TOTAL_WEIGHT
    with pytest.raises(ProtocolError, match="add up") as info:
        PublicCredentials.from_json([*fits, f"{n + 2},1"])
    assert str(info.value.where) == f"credentials[{n}]"


@pytest.mark.parametrize("weight", ["0", str(MAX_WEIGHT + 1), "9" * 5000, "x"])
def test_voter_file_weight_is_bounded(weight: str) -> None:
    with pytest.raises(UsageError, match="weight") as info:
        parse_voters(f"a@example.org,a,2\nb@example.org,b,{weight}\n", VOTERS)
    assert info.value.where == VOTERS.at(line=2)
    assert str(info.value.where) == "voters.txt / line 2"
    assert parse_voters(f"b@example.org,b,{MAX_WEIGHT}", VOTERS)[0].weight == MAX_WEIGHT


def _setup(nh: bool) -> tuple[Election, Trustees]:
    group = RFC_3526_2048
    x, pub = generate_trustee_key(group, SeededRandom("review-weights"))
    questions: tuple[HomomorphicQuestion | NonHomomorphicQuestion, ...] = (
        HomomorphicQuestion(("Y", "N"), False, 0, 1, "q1"),
    )
    if nh:
        questions = (*questions, NonHomomorphicQuestion(("A", "B"), "rank"))
    election = Election(
        1, "d", "n", group, PublicKey(group, x.public_key(group)), questions, "RevewWeights1234"
    )
    return election, Trustees((SingleItem(pub),))


def _creds(weights: list[int]) -> PublicCredentials:
    g = RFC_3526_2048
    return PublicCredentials.build(
        [(public_credential(g, mpz(k + 2)), w) for k, w in enumerate(weights)], weighted=True
    )


def test_weights_with_non_homomorphic_questions_are_refused_at_setup() -> None:
    election, trustees = _setup(nh=True)
    check_setup(election, trustees, _creds([1, 1]))  # explicit weight 1 is no weight
    with pytest.raises(ProtocolError, match="homomorphic") as info:
        check_setup(election, trustees, _creds([1, 3]))
    assert str(info.value.where) == "credentials[1]"


def test_weights_with_homomorphic_questions_only_are_accepted() -> None:
    election, trustees = _setup(nh=False)
    check_setup(election, trustees, _creds([1, 3]))
    assert _creds([1, 3]).total_weight == 4


@pytest.mark.parametrize(
    "text",
    [
        "a@example.org\nb@example.org\na@example.org\n",
        "a@example.org,alice\nb@example.org,alice,2\n",
        "a@example.org\nA@Example.org\n",
    ],
)
def test_a_voter_listed_twice_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="already listed") as info:
        parse_voters(text, VOTERS)
    assert info.value.where.file == "voters.txt" and info.value.where.line is not None


def test_distinct_voters_are_accepted() -> None:
    voters = parse_voters("a@example.org,alice\na@example.org,bob\nc@example.org\n", VOTERS)
    assert [v.id for v in voters] == ["alice", "bob", "c@example.org"]


def test_pubcreds_with_a_voter_id_twice_are_refused(tmp_path: Path) -> None:
    g = RFC_3526_2048
    a, b = (public_credential(g, mpz(k)) for k in (5, 6))
    path = tmp_path / "T.pubcreds"
    path.write_text(f'["{a},,alice","{b},,bob"]')
    assert len(read_public_credentials(path)) == 2
    path.write_text(f'["{a},,alice","{b},,Alice"]')
    with pytest.raises(ProtocolError, match="two credentials") as info:
        read_public_credentials(path)
    assert info.value.where == Location(file=str(path), path=("[1]",))
