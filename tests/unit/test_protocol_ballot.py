"""Ballots: exact bytes and hashes, and a failure twin for every check of check_ballot."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from gmpy2 import mpz

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.credentials import credential_secret, generate_credential, public_credential
from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof, sign_ballot
from viche.errors import (
    BallotShapeError,
    CredentialFormatError,
    GroupMembershipError,
    JsonFormatError,
    Location,
    NonCanonicalError,
    ProofError,
    UnknownCredentialError,
    WrongElectionError,
)
from viche.protocol.ballot import (
    Ballot,
    Signature,
    ballot_bytes,
    check_ballot,
    make_ballot,
    signature_hash,
    smart_ballot_tracker,
)
from viche.protocol.codec import dumps
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)

UUID = "BaiiotTest1234567"


@dataclass
class Ctx:
    election: Election
    credentials: PublicCredentials
    private: str
    secret: mpz
    raw: bytes
    ballot: Ballot

    def resign(self, ballot: Ballot, secret: mpz | None = None) -> bytes:
        """Re-sign an altered ballot so that only the alteration can fail."""
        h = signature_hash(ballot)
        rng = SeededRandom("resign")
        proof = sign_ballot(self.election.group, self.secret if secret is None else secret, h, rng)
        return ballot_bytes(replace(ballot, signature=Signature(h, proof)))


def _make(group: Group, questions: tuple[Any, ...], plain: list[list[int]], seed: str) -> Ctx:
    rng = SeededRandom(seed)
    x = mpz(rng.randbelow(int(group.q)))
    pk = PublicKey(group, group.powg(x))
    election = Election(1, "ballot tests", "B", group, pk, questions, UUID)
    private = generate_credential(rng)
    secret = credential_secret(group, private, UUID)
    others = [public_credential(group, mpz(k)) for k in (11, 12)]
    creds = PublicCredentials.build([*others, public_credential(group, secret)])
    ballot = make_ballot(election, pk, private, plain, rng)
    return Ctx(election, creds, private, secret, ballot_bytes(ballot), ballot)


@pytest.fixture(scope="module")
def ctx() -> Ctx:
    qs = (
        HomomorphicQuestion(("A", "B", "C"), False, 1, 2, "q1"),
        HomomorphicQuestion(("Y", "N"), True, 1, 1, "q2"),
    )
    return _make(BELENIOS_2048, qs, [[1, 0, 1], [1, 0, 0]], "ballot-h")


@pytest.fixture(scope="module")
def nh_ctx() -> Ctx:
    qs = (
        HomomorphicQuestion(("Y", "N"), False, 0, 1, "q1"),
        NonHomomorphicQuestion(("R", "G", "B"), "rank"),
    )
    return _make(RFC_3526_2048, qs, [[0, 1], [3, 1, 2]], "ballot-nh")


# ---------------------------------------------------------------------- success


def test_made_ballots_pass_every_check(ctx: Ctx, nh_ctx: Ctx) -> None:
    for c in (ctx, nh_ctx):
        checked = check_ballot(c.election, c.raw, c.credentials, where=Location(event=3))
        assert checked.ballot == c.ballot
        assert checked.weight == 1
        assert checked.credential == str(public_credential(c.election.group, c.secret))
        assert checked.hex_hash == hashlib.sha256(c.raw).hexdigest()


def test_hashes_are_computed_over_the_right_bytes(ctx: Ctx) -> None:
    digest = hashlib.sha256(ctx.raw).digest()
    assert smart_ballot_tracker(ctx.raw) == base64.b64encode(digest).decode().rstrip("=")
    cut = ctx.raw.index(b',"signature":')
    unsigned = ctx.raw[:cut] + b"}"
    assert ctx.ballot.signature.hash == base64.b64encode(
        hashlib.sha256(unsigned).digest()
    ).decode().rstrip("=")
    assert list(json.loads(ctx.raw)) == [
        "election_uuid",
        "election_hash",
        "credential",
        "answers",
        "signature",
    ]
    answers = json.loads(ctx.raw)["answers"]
    assert list(answers[0]) == ["choices", "individual_proofs", "overall_proof"]
    assert list(answers[1]) == ["choices", "individual_proofs", "overall_proof", "blank_proof"]
    assert len(answers[1]["choices"]) == 3 and len(answers[1]["overall_proof"]) == 2


def test_signature_hash_from_the_raw_bytes_is_the_same(ctx: Ctx, nh_ctx: Ctx) -> None:
    """The check hashes the unsigned ballot cut from its canonical bytes; it is the hash of
    the unsigned ballot written again, and bytes that do not end with the ballot's own
    signature fall back to writing it again."""
    for c in (ctx, nh_ctx):
        assert signature_hash(c.ballot, c.raw) == signature_hash(c.ballot)
        assert signature_hash(c.ballot, c.raw) == c.ballot.signature.hash
        other = replace(c.ballot.signature, hash="x" + c.ballot.signature.hash[1:])
        assert signature_hash(c.ballot, ballot_bytes(replace(c.ballot, signature=other))) == (
            signature_hash(c.ballot)
        )


def test_ballot_codec_roundtrips(ctx: Ctx, nh_ctx: Ctx) -> None:
    for c in (ctx, nh_ctx):
        assert ballot_bytes(Ballot.from_bytes(c.raw)) == c.raw
    assert isinstance(nh_ctx.ballot.answers[1], NHAnswer)
    assert list(json.loads(nh_ctx.raw)["answers"][1]) == ["choices", "proof"]


# ---------------------------------------------------------------------- failure twins


def _edit(raw: bytes, f: Callable[[dict[str, Any]], None]) -> bytes:
    obj = json.loads(raw)
    f(obj)
    return dumps(obj).encode()


def test_non_canonical_spacing_and_key_order(ctx: Ctx) -> None:
    obj = json.loads(ctx.raw)
    spaced = json.dumps(obj).encode()
    reordered = dumps({"election_hash": obj["election_hash"], **obj}).encode()
    for raw in (spaced, reordered, ctx.raw + b"\n"):
        with pytest.raises(NonCanonicalError):
            check_ballot(ctx.election, raw, ctx.credentials)


def test_malformed_json_and_fields(ctx: Ctx) -> None:
    with pytest.raises(JsonFormatError):
        check_ballot(ctx.election, ctx.raw[:-1], ctx.credentials)
    extra = _edit(ctx.raw, lambda o: o.update(extra=1))
    with pytest.raises(JsonFormatError, match="unexpected"):
        check_ballot(ctx.election, extra, ctx.credentials)


def test_wrong_uuid_and_wrong_election_hash(ctx: Ctx) -> None:
    b = replace(ctx.ballot, election_uuid="ZZZZZZZZZZZZZZZZ")
    with pytest.raises(WrongElectionError) as err:
        check_ballot(ctx.election, ctx.resign(b), ctx.credentials)
    assert str(err.value.where).endswith("/ election_uuid")
    b = replace(ctx.ballot, election_hash=ctx.election.fingerprint[:-1] + "A")
    with pytest.raises(WrongElectionError):
        check_ballot(ctx.election, ctx.resign(b), ctx.credentials)


def test_unknown_credential(ctx: Ctx) -> None:
    other = PublicCredentials.build([public_credential(ctx.election.group, mpz(11))])
    with pytest.raises(UnknownCredentialError) as err:
        check_ballot(ctx.election, ctx.raw, other, where=Location(event=9))
    where = err.value.where
    tracker = smart_ballot_tracker(ctx.raw)
    assert where.event == 9 and where.ballot == tracker and where.path == ("credential",)
    assert str(where) == f"event 9 / ballot {tracker} / credential"


def test_non_member_values_are_named(ctx: Ctx) -> None:
    g = ctx.election.group
    bad = g.p - 1  # order 2: not in the subgroup of odd order q
    a0 = ctx.ballot.answers[0]
    assert isinstance(a0, HAnswer)
    choices = list(a0.choices)
    choices[1] = Ciphertext(choices[1].alpha, mpz(bad))
    b = replace(ctx.ballot, answers=(replace(a0, choices=tuple(choices)), *ctx.ballot.answers[1:]))
    with pytest.raises(GroupMembershipError) as err:
        check_ballot(ctx.election, ctx.resign(b), ctx.credentials)
    where = err.value.where
    assert (where.question, where.answer, where.path) == (1, 2, ("beta",))
    assert str(where).endswith("question 1 / answer 2 / beta")
    a1 = ctx.ballot.answers[1]
    assert isinstance(a1, HAnswer)
    blank_choices = (Ciphertext(mpz(0), a1.choices[0].beta), *a1.choices[1:])
    b = replace(ctx.ballot, answers=(a0, replace(a1, choices=blank_choices)))
    with pytest.raises(GroupMembershipError) as err:
        check_ballot(ctx.election, ctx.resign(b), ctx.credentials)
    assert (err.value.where.question, err.value.where.answer) == (2, 0)  # 0: the blank flag
    assert str(err.value.where).endswith("question 2 / answer 0 / alpha")


def test_altered_ciphertext_breaks_signature_then_proofs(ctx: Ctx) -> None:
    g = ctx.election.group
    a0 = ctx.ballot.answers[0]
    assert isinstance(a0, HAnswer)
    choices = list(a0.choices)
    choices[0] = Ciphertext(choices[0].alpha, g.mul(choices[0].beta, g.g))
    b = replace(ctx.ballot, answers=(replace(a0, choices=tuple(choices)), *ctx.ballot.answers[1:]))
    # As cast (signature over the original): the signature hash no longer matches.
    with pytest.raises(ProofError) as err:
        check_ballot(ctx.election, ballot_bytes(b), ctx.credentials)
    assert str(err.value.where).endswith("signature / hash")
    # Re-signed by the voter: the individual proof of that choice fails.
    with pytest.raises(ProofError) as err:
        check_ballot(ctx.election, ctx.resign(b), ctx.credentials)
    assert (err.value.where.question, err.value.where.answer) == (1, 1)
    assert str(err.value.where).endswith("question 1 / answer 1 / individual proof")


@pytest.mark.parametrize("which", ["individual", "overall", "blank", "nh"])
def test_altered_proofs_are_named(ctx: Ctx, nh_ctx: Ctx, which: str) -> None:
    def bump(p: Proof) -> Proof:
        return Proof(p.challenge, (p.response + 1) % ctx.election.group.q)

    c = nh_ctx if which == "nh" else ctx
    answers = list(c.ballot.answers)
    if which == "individual":
        a = answers[0]
        assert isinstance(a, HAnswer)
        ip = list(a.individual_proofs)
        ip[2] = (ip[2][0], bump(ip[2][1]))
        answers[0] = replace(a, individual_proofs=tuple(ip))
        suffix = "question 1 / answer 3 / individual proof"
    elif which == "overall":
        a = answers[0]
        assert isinstance(a, HAnswer)
        answers[0] = replace(a, overall_proof=(bump(a.overall_proof[0]), *a.overall_proof[1:]))
        suffix = "question 1 / overall proof"
    elif which == "blank":
        a = answers[1]
        assert isinstance(a, HAnswer) and a.blank_proof is not None
        answers[1] = replace(a, blank_proof=(a.blank_proof[0], bump(a.blank_proof[1])))
        suffix = "question 2 / blank proof"
    else:
        a = answers[1]
        assert isinstance(a, NHAnswer)
        answers[1] = replace(a, proof=bump(a.proof))
        suffix = "question 2 / proof"
    b = replace(c.ballot, answers=tuple(answers))
    with pytest.raises(ProofError) as err:
        check_ballot(c.election, c.resign(b), c.credentials)
    assert str(err.value.where).endswith(suffix)


def test_signature_by_another_key(ctx: Ctx) -> None:
    raw = ctx.resign(ctx.ballot, secret=mpz(12))
    with pytest.raises(ProofError) as err:
        check_ballot(ctx.election, raw, ctx.credentials)
    assert str(err.value.where).endswith("/ signature")


def test_swapped_and_missing_answers(ctx: Ctx, nh_ctx: Ctx) -> None:
    a0, a1 = ctx.ballot.answers
    with pytest.raises(BallotShapeError):
        check_ballot(
            ctx.election, ctx.resign(replace(ctx.ballot, answers=(a1, a0))), ctx.credentials
        )
    with pytest.raises(BallotShapeError):
        check_ballot(ctx.election, ctx.resign(replace(ctx.ballot, answers=(a0,))), ctx.credentials)
    h, nh = nh_ctx.ballot.answers
    with pytest.raises(BallotShapeError):
        check_ballot(
            nh_ctx.election,
            nh_ctx.resign(replace(nh_ctx.ballot, answers=(nh, h))),
            nh_ctx.credentials,
        )


def test_make_ballot_refuses_bad_input(ctx: Ctx) -> None:
    rng = SeededRandom("bad-input")
    e, pk = ctx.election, ctx.election.public_key
    with pytest.raises(BallotShapeError):
        make_ballot(e, pk, ctx.private, [[1, 0, 1]], rng)
    with pytest.raises(BallotShapeError):
        make_ballot(e, pk, ctx.private, [[2, 0, 0], [1, 0, 0]], rng)
    with pytest.raises(BallotShapeError):
        make_ballot(e, pk, ctx.private, [[1, 1, 1], [1, 0, 0]], rng)  # more than max
    with pytest.raises(CredentialFormatError):
        make_ballot(e, pk, "not-a-credential", [[1, 0, 1], [1, 0, 0]], rng)
    with pytest.raises(WrongElectionError):
        make_ballot(e, PublicKey(e.group, e.group.g), ctx.private, [[1, 0, 1], [1, 0, 0]], rng)


# ---------------------------------------------------------------------- worker processes


def _check_in_worker(args: tuple[Election, bytes, PublicCredentials]) -> str:
    election, raw, creds = args
    return check_ballot(election, raw, creds, where=Location(path=("worker",))).tracker


def test_check_ballot_runs_in_a_worker_process(ctx: Ctx) -> None:
    """Everything check_ballot needs pickles: a verifier can fan ballots out to processes."""
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    election, creds = pickle.loads(pickle.dumps((ctx.election, ctx.credentials)))
    assert election.fingerprint == ctx.election.fingerprint and election.raw == ctx.election.raw
    assert check_ballot(election, ctx.raw, creds).ballot == ctx.ballot
    bad = ctx.raw.replace(b'"election_uuid":"', b'"election_uuid":"X', 1)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        good = pool.submit(_check_in_worker, (ctx.election, ctx.raw, ctx.credentials))
        assert good.result() == smart_ballot_tracker(ctx.raw)
        failed = pool.submit(_check_in_worker, (ctx.election, bad, ctx.credentials))
        with pytest.raises(WrongElectionError) as err:
            failed.result()
    assert err.value.where.ballot == smart_ballot_tracker(bad)
    assert err.value.where.path == ("worker", "election_uuid")
