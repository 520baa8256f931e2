"""Homomorphic and non-homomorphic answers: creation, checks naming the failed proof, and
interop with every ballot belenios-tool wrote in the reference elections."""

from __future__ import annotations

import json
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gmpy2 import mpz

from support.belenios import add_event, tool_verifies
from viche.crypto.answers import (
    HAnswer,
    NHAnswer,
    answer_prefix,
    check_h_answer,
    check_nh_answer,
    make_h_answer,
    make_nh_answer,
    validate_h_plaintext,
)
from viche.crypto.elgamal import Ciphertext, PublicKey, decrypt_element, dlog_small, group_decode
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, group_by_name
from viche.crypto.hashing import b64_sha256, sha256_hex
from viche.crypto.rng import SeededRandom, random_zq
from viche.crypto.schnorr import Proof
from viche.errors import BallotShapeError, Location, ProofError, UnsupportedError
from viche.testing.tamper import altered_proof

S0 = "eONJtkMuEbn3|946935272318"


@pytest.fixture()
def keys(rng: SeededRandom) -> tuple[mpz, PublicKey]:
    x = random_zq(rng, BELENIOS_2048.q)
    return x, PublicKey(BELENIOS_2048, BELENIOS_2048.powg(x))


def decrypt_all(x: mpz, answer: HAnswer) -> list[int]:
    g = BELENIOS_2048
    return [dlog_small(g, decrypt_element(g, x, ct), 1) for ct in answer.choices]


# ---------------------------------------------------------------------- creation and checks

CASES = [
    # plaintext, n_answers, min, max, blank
    ([0, 1, 0], 3, 1, 1, False),
    ([1, 1, 0], 3, 0, 2, False),
    ([0, 0, 0], 3, 0, 2, False),
    ([0, 1, 1], 2, 1, 2, True),
    ([1, 0, 0], 2, 1, 2, True),
    ([0, 0, 1, 0], 3, 1, 1, True),
]


@pytest.mark.parametrize(("plaintext", "n", "lo", "hi", "blank"), CASES)
def test_h_answer_roundtrip(
    plaintext: list[int],
    n: int,
    lo: int,
    hi: int,
    blank: bool,
    keys: tuple[mpz, PublicKey],
    rng: SeededRandom,
) -> None:
    x, pk = keys
    answer = make_h_answer(pk, S0, plaintext, n_answers=n, min=lo, max=hi, blank=blank, rng=rng)
    assert len(answer.choices) == len(plaintext) == len(answer.individual_proofs)
    assert len(answer.overall_proof) == hi - lo + 1 + blank
    assert (answer.blank_proof is not None) == blank
    check_h_answer(pk, S0, answer, n_answers=n, min=lo, max=hi, blank=blank)
    assert decrypt_all(x, answer) == plaintext
    # twin: the same answer checked under another credential prefix fails
    with pytest.raises(ProofError):
        check_h_answer(pk, S0 + "0", answer, n_answers=n, min=lo, max=hi, blank=blank)


def test_answer_prefix_is_s0_then_all_ciphertexts() -> None:
    cts = [Ciphertext(mpz(1), mpz(2)), Ciphertext(mpz(3), mpz(4))]
    assert answer_prefix("phi|cred", cts) == "phi|cred|1,2,3,4"
    assert answer_prefix("phi|cred", cts[:1]) != answer_prefix("phi|cred", cts)


@pytest.mark.parametrize(
    ("plaintext", "n", "lo", "hi", "blank", "message"),
    [
        ([0, 1], 3, 0, 1, False, "has 2 values, expected 3"),
        ([0, 1, 0], 3, 0, 1, True, "expected 4 .a leading blank flag"),
        ([0, 2, 0], 3, 0, 3, False, "choice 2 is 2"),
        ([0, 1, 1], 3, 0, 1, False, "2 answers selected, expected between 0 and 1"),
        ([0, 0, 0, 0], 3, 1, 1, True, "0 answers selected"),
        ([1, 0, 1, 0], 3, 1, 1, True, "blank vote must select no answer"),
        ([0, 1], 2, 2, 1, False, "not valid"),
    ],
)
def test_invalid_plaintexts_are_named(
    plaintext: list[int],
    n: int,
    lo: int,
    hi: int,
    blank: bool,
    message: str,
    keys: tuple[mpz, PublicKey],
    rng: SeededRandom,
) -> None:
    _, pk = keys
    with pytest.raises(BallotShapeError, match=message):
        make_h_answer(pk, S0, plaintext, n_answers=n, min=lo, max=hi, blank=blank, rng=rng)


def test_valid_plaintext_passes_validation() -> None:
    validate_h_plaintext([0, 1, 0, 1], n_answers=3, min=1, max=2, blank=True)
    validate_h_plaintext([1, 0, 0, 0], n_answers=3, min=1, max=2, blank=True)
    with pytest.raises(BallotShapeError):
        validate_h_plaintext([1, 0, 0, 0], n_answers=3, min=1, max=2, blank=False)


def expect_proof_error(pk: PublicKey, answer: HAnswer, suffix: str, **q: Any) -> None:
    with pytest.raises(ProofError) as info:
        check_h_answer(pk, S0, answer, where=Location(ballot="X", question=2), **q)
    assert info.value.where.ballot == "X" and info.value.where.question == 2
    assert str(info.value.where) == f"ballot X / question 2 / {suffix}"


@pytest.mark.parametrize("blank_vote", [False, True])
def test_every_altered_field_is_named(
    blank_vote: bool, keys: tuple[mpz, PublicKey], rng: SeededRandom
) -> None:
    _, pk = keys
    q = pk.group.q
    spec = {"n_answers": 2, "min": 1, "max": 2, "blank": True}
    plaintext = [1, 0, 0] if blank_vote else [0, 1, 0]
    answer = make_h_answer(pk, S0, plaintext, rng=rng, **spec)  # type: ignore[arg-type]
    check_h_answer(pk, S0, answer, **spec)  # type: ignore[arg-type]
    for i, pair in enumerate(answer.individual_proofs):
        for k in range(2):
            for field in ("challenge", "response"):
                changed = list(pair)
                changed[k] = altered_proof(pair[k], field, q)
                proofs = list(answer.individual_proofs)
                proofs[i] = (changed[0], changed[1])
                bad = replace(answer, individual_proofs=tuple(proofs))
                expect_proof_error(pk, bad, f"answer {i} / individual proof", **spec)
    for k in range(len(answer.overall_proof)):
        for field in ("challenge", "response"):
            overall = list(answer.overall_proof)
            overall[k] = altered_proof(overall[k], field, q)
            bad = replace(answer, overall_proof=tuple(overall))
            expect_proof_error(pk, bad, "overall proof", **spec)
    assert answer.blank_proof is not None
    for k in range(2):
        for field in ("challenge", "response"):
            blank = list(answer.blank_proof)
            blank[k] = altered_proof(blank[k], field, q)
            bad = replace(answer, blank_proof=(blank[0], blank[1]))
            expect_proof_error(pk, bad, "blank proof", **spec)
    g = pk.group
    for i, ct in enumerate(answer.choices):
        for bad_ct in (
            replace(ct, alpha=g.mul(ct.alpha, g.g)),
            replace(ct, beta=g.mul(ct.beta, g.g)),
        ):
            choices = list(answer.choices)
            choices[i] = bad_ct
            bad = replace(answer, choices=tuple(choices))
            expect_proof_error(pk, bad, f"answer {i} / individual proof", **spec)


def test_overall_proof_without_blank_is_named(
    keys: tuple[mpz, PublicKey], rng: SeededRandom
) -> None:
    _, pk = keys
    spec: dict[str, Any] = {"n_answers": 3, "min": 1, "max": 2, "blank": False}
    answer = make_h_answer(pk, S0, [0, 1, 1], rng=rng, **spec)
    check_h_answer(pk, S0, answer, **spec)
    for k in range(2):
        for field in ("challenge", "response"):
            overall = list(answer.overall_proof)
            overall[k] = altered_proof(overall[k], field, pk.group.q)
            expect_proof_error(
                pk, replace(answer, overall_proof=tuple(overall)), "overall proof", **spec
            )
    expect_proof_error(pk, answer, "overall proof", n_answers=3, min=0, max=1, blank=False)
    pair = answer.individual_proofs[2]
    swapped = replace(answer, individual_proofs=(*answer.individual_proofs[:2], (pair[1], pair[0])))
    expect_proof_error(pk, swapped, "answer 3 / individual proof", **spec)


def test_shape_errors(keys: tuple[mpz, PublicKey], rng: SeededRandom) -> None:
    _, pk = keys
    spec: dict[str, Any] = {"n_answers": 2, "min": 0, "max": 1, "blank": True}
    answer = make_h_answer(pk, S0, [0, 1, 0], rng=rng, **spec)
    check_h_answer(pk, S0, answer, **spec)
    bads = {
        "choices": replace(answer, choices=answer.choices[:2]),
        "individual proofs": replace(answer, individual_proofs=answer.individual_proofs[:2]),
        "overall proof": replace(answer, overall_proof=answer.overall_proof[:2]),
        "blank proof": replace(answer, blank_proof=None),
    }
    for where, bad in bads.items():
        with pytest.raises(BallotShapeError) as info:
            check_h_answer(pk, S0, bad, where=Location(path=("a",)), **spec)
        assert str(info.value.where) == f"a / {where}"
    with pytest.raises(BallotShapeError, match="must not have a blank proof"):
        check_h_answer(pk, S0, answer, n_answers=3, min=0, max=2, blank=False)
    short_pair = replace(
        answer,
        individual_proofs=((answer.individual_proofs[0][0],), *answer.individual_proofs[1:]),  # type: ignore[arg-type]
    )
    with pytest.raises(BallotShapeError, match="2"):
        check_h_answer(pk, S0, short_pair, **spec)


# ---------------------------------------------------------------------- non-homomorphic


def test_nh_answer_roundtrip_and_tamper(rng: SeededRandom) -> None:
    group = RFC_3526_2048
    x = random_zq(rng, group.q)
    pk = PublicKey(group, group.powg(x))
    answer = make_nh_answer(pk, S0, [3, 1, 2], rng)
    check_nh_answer(pk, S0, answer)
    assert group_decode(group, decrypt_element(group, x, answer.choices), 3) == [3, 1, 2]
    for field in ("challenge", "response"):
        bad = replace(answer, proof=altered_proof(answer.proof, field, group.q))
        with pytest.raises(ProofError) as info:
            check_nh_answer(pk, S0, bad, where=Location(question=1))
        assert info.value.where.question == 1
        assert str(info.value.where) == "question 1 / proof"
    bad_ct = replace(
        answer, choices=replace(answer.choices, beta=group.mul(answer.choices.beta, mpz(4)))
    )
    with pytest.raises(ProofError):
        check_nh_answer(pk, S0, bad_ct)


def test_nh_answer_needs_an_embedding(keys: tuple[mpz, PublicKey], rng: SeededRandom) -> None:
    _, pk = keys
    with pytest.raises(UnsupportedError):
        make_nh_answer(pk, S0, [1], rng)


# ---------------------------------------------------------------------- interop


def _proof(d: dict[str, str]) -> Proof:
    return Proof(mpz(d["challenge"]), mpz(d["response"]))


def _ct(d: dict[str, str]) -> Ciphertext:
    return Ciphertext(mpz(d["alpha"]), mpz(d["beta"]))


def election_bytes(election_dir: Path) -> bytes:
    """setup/election.json without its trailing newline, checked against the archive member
    (φ is the hash of the member's exact bytes)."""
    raw = (election_dir / "setup" / "election.json").read_bytes()
    body = raw[:-1] if raw.endswith(b"\n") else raw
    assert not body.endswith(b"\n")
    (archive,) = election_dir.glob("*.bel")
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{sha256_hex(body)}.data.json")
        assert member is not None
        assert member.read() == body
    return body


def test_reference_ballots_verify(reference_dir: Path) -> None:
    elections = sorted(p for p in reference_dir.iterdir() if (p / "ballots").is_dir())
    assert elections
    checked = {"individual": 0, "overall": 0, "blank": 0, "raweg": 0}
    for edir in elections:
        body = election_bytes(edir)
        election = json.loads(body)
        phi = b64_sha256(body)
        group = group_by_name(election["group"])
        pk = PublicKey(group, mpz(election["public_key"]))
        ballots = sorted((edir / "ballots").glob("*.json"))
        assert ballots
        for path in ballots:
            ballot = json.loads(path.read_bytes())
            assert ballot["election_hash"] == phi
            s0 = f"{phi}|{ballot['credential']}"
            for n, (question, a) in enumerate(
                zip(election["questions"], ballot["answers"], strict=True)
            ):
                where = Location(file=f"{edir.name}/{path.name}", question=n + 1)
                if question.get("type") == "NonHomomorphic":
                    nh = NHAnswer(_ct(a["choices"]), _proof(a["proof"]))
                    check_nh_answer(pk, s0, nh, where=where)
                    checked["raweg"] += 1
                    assert not nh_ok_with(pk, s0 + "x", nh)
                    continue
                h = HAnswer(
                    tuple(_ct(c) for c in a["choices"]),
                    tuple((_proof(p0), _proof(p1)) for p0, p1 in a["individual_proofs"]),
                    tuple(_proof(p) for p in a["overall_proof"]),
                    (_proof(a["blank_proof"][0]), _proof(a["blank_proof"][1]))
                    if "blank_proof" in a
                    else None,
                )
                spec = {
                    "n_answers": len(question["answers"]),
                    "min": question["min"],
                    "max": question["max"],
                    "blank": bool(question.get("blank", False)),
                }
                for ct in h.choices:
                    group.check_element(ct.alpha, where)
                    group.check_element(ct.beta, where)
                check_h_answer(pk, s0, h, where=where, **spec)
                checked["individual"] += len(h.choices)
                checked["overall"] += 1
                checked["blank"] += h.blank_proof is not None
                if path != ballots[0]:
                    continue
                # twin (first ballot of each election, to keep the test quick): the tool's
                # overall proof fails once one response is altered
                bad = replace(
                    h,
                    overall_proof=(
                        altered_proof(h.overall_proof[0], "response", group.q),
                        *h.overall_proof[1:],
                    ),
                )
                with pytest.raises(ProofError):
                    check_h_answer(pk, s0, bad, where=where, **spec)
    assert all(checked.values()), checked


def nh_ok_with(pk: PublicKey, s0: str, answer: NHAnswer) -> bool:
    try:
        check_nh_answer(pk, s0, answer)
    except ProofError:
        return False
    return True


# ------------------------------------------------------- our answers, checked by the tool


def _num(x: mpz) -> str:
    return str(x)


def _proof_json(p: Proof) -> dict[str, str]:
    return {"challenge": _num(p.challenge), "response": _num(p.response)}


def _ct_json(c: Ciphertext) -> dict[str, str]:
    return {"alpha": _num(c.alpha), "beta": _num(c.beta)}


def _answer_json(answer: HAnswer | NHAnswer) -> dict[str, Any]:
    if isinstance(answer, NHAnswer):
        return {"choices": _ct_json(answer.choices), "proof": _proof_json(answer.proof)}
    out: dict[str, Any] = {
        "choices": [_ct_json(c) for c in answer.choices],
        "individual_proofs": [
            [_proof_json(p0), _proof_json(p1)] for p0, p1 in answer.individual_proofs
        ],
        "overall_proof": [_proof_json(p) for p in answer.overall_proof],
    }
    if answer.blank_proof is not None:
        out["blank_proof"] = [_proof_json(p) for p in answer.blank_proof]
    return out


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _tool_ballot(
    edir: Path,
    credential: str,
    plaintexts: list[list[int]],
    rng: SeededRandom,
    tamper: int | None = None,
) -> str:
    """A complete canonical ballot line built by hand around our answers (the protocol codec
    is somebody else's; this only exercises the cryptography)."""
    from viche.crypto.credentials import credential_secret
    from viche.crypto.schnorr import sign_ballot

    body = election_bytes(edir)
    election = json.loads(body)
    phi = b64_sha256(body)
    group = group_by_name(election["group"])
    pk = PublicKey(group, mpz(election["public_key"]))
    secret = credential_secret(group, credential, election["uuid"])
    cred = group.powg(secret)
    s0 = f"{phi}|{cred}"
    answers: list[HAnswer | NHAnswer] = []
    for question, plain in zip(election["questions"], plaintexts, strict=True):
        if question.get("type") == "NonHomomorphic":
            answers.append(make_nh_answer(pk, s0, plain, rng))
        else:
            answers.append(
                make_h_answer(
                    pk,
                    s0,
                    plain,
                    n_answers=len(question["answers"]),
                    min=question["min"],
                    max=question["max"],
                    blank=bool(question.get("blank", False)),
                    rng=rng,
                )
            )
    if tamper is not None:
        target = answers[tamper]
        if isinstance(target, NHAnswer):
            answers[tamper] = replace(
                target, proof=altered_proof(target.proof, "response", group.q)
            )
        else:
            first_altered = altered_proof(target.overall_proof[0], "response", group.q)
            answers[tamper] = replace(
                target, overall_proof=(first_altered, *target.overall_proof[1:])
            )
    unsigned = (
        f'{{"election_uuid":{_compact(election["uuid"])},"election_hash":{_compact(phi)},'
        f'"credential":"{cred}","answers":{_compact([_answer_json(a) for a in answers])}'
    )
    h = b64_sha256((unsigned + "}").encode())
    sig = sign_ballot(group, secret, h, rng)
    return unsigned + f',"signature":{{"hash":"{h}","proof":{_compact(_proof_json(sig))}}}}}'


def _tool_verify(
    belenios_tool: str, edir: Path, work: Path, ballots: list[str]
) -> tuple[bool, str]:
    """Append ``ballots`` to the setup-only archive of ``edir`` and run ``election verify``."""
    import shutil

    work.mkdir()
    (archive,) = (edir / "gen").glob("*.bel")
    shutil.copyfile(archive, work / archive.name)
    (work / archive.name).chmod(0o644)
    for line in ballots:
        add_event(belenios_tool, work, "Ballot", line.encode() + b"\n")
    return tool_verifies(belenios_tool, work)


def _reference_creds(edir: Path) -> list[str]:
    lines = (edir / "secrets" / "private_creds.txt").read_text().splitlines()
    return [line.split()[-1] for line in lines if line.strip()]


@pytest.mark.interop
def test_belenios_tool_accepts_our_homomorphic_answers(
    belenios_tool: str, reference_dir: Path, tmp_path: Path, rng: SeededRandom
) -> None:
    edir = reference_dir / "simple-plain-BELENIOS"
    creds = _reference_creds(edir)
    votes = [
        [[1, 0, 1, 0, 0], [1, 0, 0, 0]],  # blank on the referendum
        [[0, 1, 1, 1, 0], [0, 0, 1, 0]],
    ]
    good = [_tool_ballot(edir, c, v, rng) for c, v in zip(creds, votes, strict=False)]
    ok, err = _tool_verify(belenios_tool, edir, tmp_path / "good", good)
    assert ok, err
    bad = [*good[:1], _tool_ballot(edir, creds[1], votes[1], rng, tamper=0)]
    ok, err = _tool_verify(belenios_tool, edir, tmp_path / "bad", bad)
    assert not ok
    assert "invalid ballot" in err


@pytest.mark.interop
def test_belenios_tool_accepts_our_non_homomorphic_answers(
    belenios_tool: str, reference_dir: Path, tmp_path: Path, rng: SeededRandom
) -> None:
    edir = reference_dir / "nh-mixnet-RFC"
    cred = _reference_creds(edir)[0]
    vote = [[0, 1], [3, 4, 2, 1], [5, 0, 1]]
    ok, err = _tool_verify(
        belenios_tool, edir, tmp_path / "good", [_tool_ballot(edir, cred, vote, rng)]
    )
    assert ok, err
    bad = _tool_ballot(edir, cred, vote, rng, tamper=2)  # the raweg proof of the last answer
    ok, err = _tool_verify(belenios_tool, edir, tmp_path / "bad", [bad])
    assert not ok
    assert "invalid ballot" in err
