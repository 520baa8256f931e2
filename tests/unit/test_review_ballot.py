"""Review fixes on ballot checking: hostile ballots are refused cheaply and only ever with a
VicheError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from gmpy2 import mpz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from json_mutation import ACTIONS, json_values, mutate_node
from viche.crypto.credentials import credential_secret, generate_credential, public_credential
from viche.crypto.elgamal import PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom
from viche.errors import BallotShapeError, Location, VicheError
from viche.protocol import ballot as ballot_module
from viche.protocol.ballot import ballot_bytes, check_ballot, make_ballot, max_ballot_size
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)

UUID = "RevewBaLLt12345"
_PRIVATE = generate_credential(SeededRandom("review-private"))


@dataclass
class Ctx:
    election: Election
    credentials: PublicCredentials
    raw: bytes


def _make(group: Group, questions: tuple[Any, ...], plain: list[list[int]], seed: str) -> Ctx:
    rng = SeededRandom(seed)
    pk = PublicKey(group, group.powg(mpz(rng.randbelow(int(group.q)))))
    election = Election(1, "review", "R", group, pk, questions, UUID)
    private = generate_credential(rng)
    creds = PublicCredentials.build(
        [public_credential(group, credential_secret(group, private, UUID))]
    )
    raw = ballot_bytes(make_ballot(election, pk, private, plain, rng))
    return Ctx(election, creds, raw)


@pytest.fixture(scope="module")
def ctx() -> Ctx:
    qs = (
        HomomorphicQuestion(("A", "B", "C"), False, 1, 2, "q1"),
        HomomorphicQuestion(("Y", "N"), True, 1, 1, "q2"),
    )
    return _make(BELENIOS_2048, qs, [[1, 0, 1], [1, 0, 0]], "review-h")


@pytest.fixture(scope="module")
def nh_ctx() -> Ctx:
    qs = (
        HomomorphicQuestion(("Y", "N"), True, 0, 2, "q1"),
        NonHomomorphicQuestion(("R", "G", "B"), "rank"),
    )
    return _make(RFC_3526_2048, qs, [[0, 1, 1], [255, 255, 255]], "review-nh")


# ---------------------------------------------------------------------- size bound


def test_valid_ballots_fit_the_size_bound(ctx: Ctx, nh_ctx: Ctx) -> None:
    for c in (ctx, nh_ctx):
        assert len(c.raw) <= max_ballot_size(c.election)
        check_ballot(c.election, c.raw, c.credentials)


def test_oversized_ballot_is_refused_before_parsing(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = json.loads(ctx.raw)
    obj["answers"] = obj["answers"] * 20
    raw = json.dumps(obj, separators=(",", ":")).encode()

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an oversized ballot must not be parsed")

    monkeypatch.setattr(ballot_module.Ballot, "from_bytes", no_parse)
    with pytest.raises(BallotShapeError, match="bytes") as info:
        check_ballot(ctx.election, raw, ctx.credentials, where=Location(path=("upload",)))
    assert str(info.value.where) == "upload / ballot"


# ---------------------------------------------------------------------- fuzz


_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**50), max_value=10**50),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["0", "1", "-1", "01", "1" * 700, str(BELENIOS_2048.p), str(BELENIOS_2048.q)]),
)
_JSON = json_values(_JSON_LEAVES, key_size=6, max_leaves=6)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_check_ballot_raises_only_viche_errors(ctx: Ctx, data: st.DataObject) -> None:
    """Replace, delete or duplicate any node of a valid ballot: the only failure is a
    VicheError (never KeyError, IndexError, TypeError, ValueError...)."""
    action = data.draw(st.sampled_from(ACTIONS))
    mutated = mutate_node(data, json.loads(ctx.raw), action, _JSON)
    raw = json.dumps(mutated, separators=(",", ":")).encode()
    try:
        check_ballot(ctx.election, raw, ctx.credentials)
    except VicheError as exc:
        assert exc.code[0] == "V" and len(exc.code) == 5
    else:  # only a mutation that changed nothing can pass
        assert raw == ctx.raw


# ---------------------------------------------------------------------- plaintext errors


@pytest.mark.parametrize(
    ("plain", "question"),
    [([[1, 1, 1], [0, 1, 0]], 1), ([[1, 0, 0], [1, 1, 0]], 2), ([[1, 0, 0], [0, 1]], 2)],
)
def test_plaintext_errors_name_the_question(
    ctx: Ctx, plain: list[list[int]], question: int
) -> None:
    with pytest.raises(BallotShapeError) as info:
        make_ballot(ctx.election, ctx.election.public_key, _PRIVATE, plain, SeededRandom("p"))
    assert info.value.where == Location(question=question, path=("ballot",))
    assert str(info.value.where) == f"question {question} / ballot"


def test_nh_plaintext_errors_name_the_question(nh_ctx: Ctx) -> None:
    with pytest.raises(BallotShapeError) as info:
        make_ballot(
            nh_ctx.election,
            nh_ctx.election.public_key,
            _PRIVATE,
            [[0, 1, 0], [256, 0, 0]],
            SeededRandom("p"),
        )
    assert info.value.where.question == 2
    assert str(info.value.where) == "question 2 / ballot"
