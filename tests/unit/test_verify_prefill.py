"""The powers precomputed for a ballot check are exact, cover the membership tests and every
proof branch, and leave the verdict unchanged (valid and tampered ballots)."""

from __future__ import annotations

import json
from pathlib import Path

import gmpy2
import pytest

from viche.crypto.answers import HAnswer
from viche.protocol.ballot import Ballot, check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify.ballots import check_one
from viche.verify.prefill import ballot_powers


@pytest.fixture(scope="module", params=["simple-plain-BELENIOS", "threshold-weighted-revotes"])
def archive(request: pytest.FixtureRequest, reference_dir: Path):  # type: ignore[no-untyped-def]
    rec = read_archive(reference_dir / request.param)
    return (
        Election.from_bytes(rec.election),
        PublicCredentials.from_bytes(rec.public_credentials),
        rec.ballots,
    )


def test_precomputed_powers_are_exact_and_complete(archive) -> None:  # type: ignore[no-untyped-def]
    election, _creds, ballots = archive
    group = election.group
    p, g, y = group.p, group.g, election.public_key.y
    g_inv = gmpy2.invert(g, p)
    for entry in ballots:
        ballot = Ballot.from_bytes(entry.raw)
        powers, products = ballot_powers(election, ballot)
        assert powers and products
        for (base, e), value in powers.items():
            assert value == gmpy2.powmod(base, e, p)
        for (f, s, base, c, m), text in products.items():  # the decimal text the check hashes
            shifted = base * gmpy2.powmod(g_inv, m, p) % p  # b / g^m
            assert text == str(gmpy2.powmod(f, s, p) * gmpy2.powmod(shifted, c, p) % p)
        assert (ballot.credential, group.q) in powers
        sig = ballot.signature.proof
        assert (g, sig.response, ballot.credential, sig.challenge, 0) in products
        for answer in ballot.answers:
            assert isinstance(answer, HAnswer)
            for ct, (p0, p1) in zip(answer.choices, answer.individual_proofs, strict=True):
                assert (ct.alpha, group.q) in powers and (ct.beta, group.q) in powers
                for proof in (p0, p1):
                    assert (g, proof.response, ct.alpha, proof.challenge, 0) in products
                assert (y, p0.response, ct.beta, p0.challenge, 0) in products
                assert (y, p1.response, ct.beta, p1.challenge, 1) in products  # (α, β / g)


def test_fast_check_agrees_with_plain_check(archive) -> None:  # type: ignore[no-untyped-def]
    election, creds, ballots = archive
    for i, entry in enumerate(ballots):
        plain = check_ballot(election, entry.raw, creds)
        fast = check_one(election, creds, i, entry.height, entry.raw)
        assert fast.error is None
        assert (fast.tracker, fast.credential, fast.weight) == (
            plain.tracker,
            plain.credential,
            plain.weight,
        )


def test_fast_check_still_rejects_a_wrong_proof(archive) -> None:  # type: ignore[no-untyped-def]
    election, creds, ballots = archive
    obj = json.loads(ballots[0].raw)
    proof = obj["answers"][0]["individual_proofs"][1][0]
    proof["challenge"] = str((int(proof["challenge"]) + 1) % int(election.group.q))
    raw = json.dumps(obj, separators=(",", ":")).encode()
    outcome = check_one(election, creds, 0, 1, raw)
    assert outcome.error is not None
    assert outcome.error[1] == "V2002"
