"""Review fixes on ballot checking: hostile ballots are refused cheaply and only ever with a
VicheError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from gmpy2 import mpz
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from json_mutation import ACTIONS, json_values, mutate_node
from viche.crypto.answers import HAnswer
from viche.crypto.credentials import credential_secret, generate_credential, public_credential
from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.errors import BallotShapeError, Location, VicheError
from viche.protocol import ballot as ballot_module
from viche.protocol.ballot import (
    Ballot,
    ballot_bytes,
    check_ballot,
    make_ballot,
    max_ballot_size,
    smart_ballot_tracker,
)
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)
from viche.verify.prefill import check_ballot_fast

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


def _located_reference(c: Ctx, raw: bytes, where: Location) -> VicheError | None:
    """The error of the check's stages run with their locations built all along (as
    check_ballot ran them before ``errors.located``), or None when the ballot passes."""
    tracker = smart_ballot_tracker(raw)
    bwhere = where.at(ballot=tracker)
    try:
        ballot = Ballot.from_bytes(raw, bwhere)
        hashes = (tracker, sha256_hex(raw))
        ballot_module._check_parsed(c.election, raw, c.credentials, ballot, hashes, bwhere)
    except VicheError as exc:
        return exc
    return None


def _numbers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of the decimal strings of a ballot's JSON."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _numbers(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _numbers(v, (*path, i))]
    return [path] if isinstance(value, str) and value.isdigit() else []


def _set(root: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        root = root[key]
    root[path[-1]] = value


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), which=st.sampled_from(["h", "nh"]), fast=st.booleans())
def test_check_errors_are_located_as_the_stages_locate_them(
    ctx: Ctx, nh_ctx: Ctx, data: st.DataObject, which: str, fast: bool
) -> None:
    """A mutated ballot (any JSON node, or one number changed: membership, proofs,
    signature, credential) is refused by check_ballot and check_ballot_fast with the error
    (class, code, message, location) of the stages run with every location built."""
    c = ctx if which == "h" else nh_ctx
    value = json.loads(c.raw)
    if data.draw(st.booleans()):
        value = mutate_node(data, value, data.draw(st.sampled_from(ACTIONS)), _JSON)
    else:
        path = data.draw(st.sampled_from(_numbers(value)))
        text = data.draw(st.sampled_from(["0", "1", "p", "+1", "-1"]))
        old = value
        for key in path:
            old = old[key]
        number = {"p": str(c.election.group.p), "+1": str(int(old) + 1)}.get(text, text)
        _set(value, path, str(max(int(old) - 1, 0)) if text == "-1" else number)
    raw = json.dumps(value, separators=(",", ":")).encode()
    assume(len(raw) <= max_ballot_size(c.election))
    where = Location(event=7, path=("upload",))
    expected = _located_reference(c, raw, where)
    check = check_ballot_fast if fast else check_ballot
    try:
        check(c.election, raw, c.credentials, where)
    except VicheError as exc:
        assert expected is not None
        assert (type(exc), exc.code, exc.message, exc.where) == (
            type(expected),
            expected.code,
            expected.message,
            expected.where,
        )
    else:
        assert expected is None


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


def test_a_parsed_ballot_keeps_the_digits_it_read(ctx: Ctx) -> None:
    """The decimal texts of the ciphertexts and the credential are the ones read (no
    conversion back), and they are the values' own decimal forms."""
    value = json.loads(ctx.raw)
    ballot = Ballot.from_bytes(ctx.raw)
    assert ballot.credential_text == value["credential"] == str(ballot.credential)
    for answer, json_answer in zip(ballot.answers, value["answers"], strict=True):
        assert isinstance(answer, HAnswer)
        for ct, json_ct in zip(answer.choices, json_answer["choices"], strict=True):
            assert (ct.alpha_text, ct.beta_text) == (json_ct["alpha"], json_ct["beta"])
            assert (ct.alpha_text, ct.beta_text) == (str(ct.alpha), str(ct.beta))
            assert ct == Ciphertext(ct.alpha, ct.beta)  # the texts are not part of the value
    assert ballot_bytes(ballot) == ctx.raw
