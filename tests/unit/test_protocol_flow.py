"""A whole election in process: setup, weighted voters, blank votes and a re-vote, the
encrypted tally, partial decryptions with Single keys and with a 2-of-3 Pedersen subset,
and a result equal to the weighted plaintext sum. Each success has its failure twin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from gmpy2 import mpz

from viche.crypto.credentials import credential_secret, generate_credential, public_credential
from viche.crypto.elgamal import PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.rng import RandomSource, SeededRandom, random_zq
from viche.crypto.schnorr import sign_message
from viche.crypto.trustee import (
    TrusteePrivateKey,
    generate_trustee_key,
    trustee_key_from_private,
)
from viche.errors import Location, ProofError, TallyError
from viche.protocol.ballot import ballot_bytes, check_ballot, make_ballot
from viche.protocol.codec import dumps
from viche.protocol.election import (
    Election,
    ElectionTemplate,
    HomomorphicQuestion,
    PublicCredentials,
)
from viche.protocol.tally import (
    PartialDecryption,
    check_partial_decryption,
    check_result,
    compute_encrypted_tally,
    compute_result,
    last_ballots,
    make_partial_decryption,
    sized_tally,
)
from viche.protocol.trustees import (
    Cert,
    CertKeys,
    Coefexps,
    PedersenItem,
    SingleItem,
    ThresholdParameters,
    Trustees,
)

UUID = "TestFiow234567Z"
QUESTIONS = (
    HomomorphicQuestion(("Alice", "Bob", "Carol", "Dave"), False, 1, 2, "Pick 1 or 2"),
    HomomorphicQuestion(("Yes", "No"), True, 1, 1, "Referendum (blank allowed)"),
)
TEMPLATE = ElectionTemplate("flow test", "Flow", QUESTIONS)

# (voter index, plaintexts) in casting order; voter 0 votes twice, the last one counts.
VOTES: list[tuple[int, list[list[int]]]] = [
    (0, [[1, 0, 0, 0], [0, 1, 0]]),
    (1, [[0, 1, 1, 0], [1, 0, 0]]),  # blank on question 2
    (2, [[0, 0, 0, 1], [0, 0, 1]]),
    (3, [[1, 1, 0, 0], [0, 1, 0]]),
    (4, [[0, 0, 1, 0], [1, 0, 0]]),  # blank on question 2
    (0, [[0, 0, 1, 1], [0, 0, 1]]),  # re-vote
]
WEIGHTS = [3, 1, 2, 5, 1]


def _pedersen(
    group: Group, rng: RandomSource, n: int = 3, threshold: int = 2
) -> tuple[ThresholdParameters, list[TrusteePrivateKey]]:
    """Threshold parameters of n trustees (each deals a polynomial of degree threshold-1)
    and their shares x_j = Σ_z P_z(j): the outcome of a Pedersen ceremony."""
    q = group.q
    certs, coefexps, polys = [], [], []
    for _ in range(n):
        sk, dk = random_zq(rng, q), random_zq(rng, q)
        keys = CertKeys(group.powg(sk), group.powg(dk))
        msg = dumps(keys.to_json())
        certs.append(Cert(msg, sign_message(group, sk, msg, rng), keys))
        poly = [random_zq(rng, q) for _ in range(threshold)]
        polys.append(poly)
        values = tuple(group.powg(a) for a in poly)
        cmsg = Coefexps.message_of(values)
        coefexps.append(Coefexps(cmsg, sign_message(group, sk, cmsg, rng), values))
    shares = [
        TrusteePrivateKey(sum((sum(a * j**k for k, a in enumerate(p)) for p in polys), mpz(0)) % q)
        for j in range(1, n + 1)
    ]
    vks = tuple(trustee_key_from_private(group, x, rng) for x in shares)
    return ThresholdParameters(threshold, tuple(certs), tuple(coefexps), vks), shares


@dataclass
class Setup:
    election: Election
    trustees: Trustees
    keys: dict[int, TrusteePrivateKey]  # by trustee id
    credentials: PublicCredentials
    private: list[str]


def _setup(group: Group, rng: RandomSource, threshold: bool, n_voters: int) -> Setup:
    keys: dict[int, TrusteePrivateKey] = {}
    if threshold:
        server, server_pub = generate_trustee_key(group, rng)
        params, shares = _pedersen(group, rng)
        trustees = Trustees((SingleItem(server_pub), PedersenItem(params)))
        keys[1] = server
        keys.update({j + 2: x for j, x in enumerate(shares)})
    else:
        pairs = [generate_trustee_key(group, rng) for _ in range(2)]
        trustees = Trustees(tuple(SingleItem(pub) for _, pub in pairs))
        keys = {i + 1: priv for i, (priv, _) in enumerate(pairs)}
    pk = PublicKey(group, trustees.public_key(group))
    election = Election.from_template(TEMPLATE, pk, UUID)
    private = [generate_credential(rng) for _ in range(n_voters)]
    pubs = [public_credential(group, credential_secret(group, c, UUID)) for c in private]
    creds = PublicCredentials.build(list(zip(pubs, WEIGHTS[:n_voters], strict=True)), weighted=True)
    return Setup(election, trustees, keys, creds, private)


def _expected(
    votes: Sequence[tuple[int, list[list[int]]]], weights: Sequence[int]
) -> list[list[int]]:
    last = dict(votes)
    totals = [[0] * q.n_choices for q in QUESTIONS]
    for voter, plain in last.items():
        for i, row in enumerate(plain):
            for j, m in enumerate(row):
                totals[i][j] += weights[voter] * m
    return totals


@pytest.mark.parametrize(
    ("group", "threshold", "n_voters"),
    [
        (BELENIOS_2048, False, 1),
        (BELENIOS_2048, True, 5),
        (RFC_3526_2048, False, 3),
    ],
    ids=["single-1voter", "threshold-5voters", "rfc-3voters"],
)
def test_full_election(group: Group, threshold: bool, n_voters: int) -> None:
    rng = SeededRandom(f"flow-{group.name}-{threshold}-{n_voters}")
    s = _setup(group, rng, threshold, n_voters)
    votes = [(v, p) for v, p in VOTES if v < n_voters]
    checked = []
    for n, (voter, plain) in enumerate(votes):
        ballot = make_ballot(s.election, s.election.public_key, s.private[voter], plain, rng)
        checked.append(
            check_ballot(
                s.election, ballot_bytes(ballot), s.credentials, Location(path=(f"cast {n}",))
            )
        )
    counted = last_ballots(checked)
    assert len(counted) == n_voters
    tally = compute_encrypted_tally(s.election, counted)
    sized = sized_tally(tally, counted)
    assert sized.total_weight == sum(WEIGHTS[:n_voters])
    assert sized.num_tallied == n_voters

    # Threshold: the server key and Pedersen trustees 1 and 3 (ids 2 and 4) suffice.
    ids = [1, 2, 4] if threshold else [1, 2]
    partials: dict[int, PartialDecryption] = {}
    for tid in ids:
        pd = make_partial_decryption(s.election, tally, s.keys[tid], rng)
        check_partial_decryption(
            s.election, tally, pd, s.trustees.trustee(tid).key.public_key, Location(trustee=tid)
        )
        partials[tid] = pd
    result = compute_result(s.election, s.trustees, tally, partials, sized.total_weight)
    expected = _expected(votes, WEIGHTS)
    assert [list(r) for r in result.result] == expected
    check_result(s.election, s.trustees, tally, partials, result)

    # Failure twins: a missing share, a share checked against another trustee's key,
    # a result off by one.
    fewer = dict(partials)
    fewer.pop(ids[-1])
    with pytest.raises(TallyError):
        compute_result(s.election, s.trustees, tally, fewer, sized.total_weight)
    other = s.trustees.trustee(ids[0]).key.public_key
    with pytest.raises(ProofError):
        check_partial_decryption(s.election, tally, partials[ids[-1]], other)
    bumped: list[list[Any]] = [list(r) for r in result.result]
    bumped[1][0] += 1
    from viche.protocol.tally import Result

    with pytest.raises(TallyError):
        check_result(
            s.election, s.trustees, tally, partials, Result(tuple(tuple(r) for r in bumped))
        )


def test_every_pedersen_subset_gives_the_same_result() -> None:
    """With 2-of-3, each pair of Pedersen trustees (plus the server) decrypts the same."""
    group = BELENIOS_2048
    rng = SeededRandom("subsets")
    s = _setup(group, rng, True, 2)
    checked = [
        check_ballot(
            s.election,
            ballot_bytes(make_ballot(s.election, s.election.public_key, s.private[v], p, rng)),
            s.credentials,
        )
        for v, p in VOTES
        if v < 2
    ]
    counted = last_ballots(checked)
    tally = compute_encrypted_tally(s.election, counted)
    pds = {
        tid: make_partial_decryption(s.election, tally, s.keys[tid], rng) for tid in (1, 2, 3, 4)
    }
    results = set()
    for subset in ([2, 3], [2, 4], [3, 4], [2, 3, 4]):
        chosen = {tid: pds[tid] for tid in [1, *subset]}
        res = compute_result(s.election, s.trustees, tally, chosen, sum(WEIGHTS[:2]))
        results.add(dumps(res.to_json()))
    assert results == {dumps({"result": _expected([(v, p) for v, p in VOTES if v < 2], WEIGHTS)})}
    # Failure twin: without the server's mandatory Single key there is no result.
    with pytest.raises(TallyError, match="partial decryption of trustee 1"):
        compute_result(s.election, s.trustees, tally, {2: pds[2], 3: pds[3]}, 10)
