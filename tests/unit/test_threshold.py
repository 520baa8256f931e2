"""The Pedersen ceremony run entirely by Viche, threshold decryption weights, Lagrange laws."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cache

import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.crypto.group import BELENIOS_2048, RFC_3526_2048, Group
from viche.crypto.rng import SeededRandom
from viche.crypto.trustee import TrusteePrivateKey, TrusteePublicKey, generate_trustee_key
from viche.errors import GroupMembershipError, KeyCeremonyError, Location, ProofError, TallyError
from viche.protocol.channels import derive_keys, receive
from viche.protocol.codec import dumps, loads
from viche.protocol.threshold import (
    check_certs,
    check_threshold_parameters,
    check_trustees,
    combine_factors,
    compute_vinputs,
    decrypt_share,
    decryption_weights,
    generate_cert,
    lagrange_coefficient,
    make_polynomial,
    make_threshold_parameters,
    make_voutput,
    pedersen_public_key,
)
from viche.protocol.trustees import (
    Cert,
    Coefexps,
    PedersenItem,
    RawPolynomial,
    SingleItem,
    ThresholdParameters,
    Trustees,
    VInput,
)


@dataclass(frozen=True)
class Ceremony:
    seeds: tuple[str, ...]
    certs: tuple[Cert, ...]
    params: ThresholdParameters
    shares: tuple[TrusteePrivateKey, ...]
    secret: mpz  # Σ_i a_i0, recovered from the trustees' own raw polynomials


@cache
def ceremony(group: Group, n: int, t: int) -> Ceremony:
    rng = SeededRandom(f"ceremony-{group.name}-{n}-{t}")
    pairs = [generate_cert(group, rng) for _ in range(n)]
    seeds = tuple(s for s, _ in pairs)
    certs = tuple(c for _, c in pairs)
    check_certs(group, certs)
    polys = [make_polynomial(group, certs, s, t, rng) for s in seeds]
    vinputs = compute_vinputs(group, certs, polys)
    vouts = [make_voutput(group, certs, s, v, rng) for s, v in zip(seeds, vinputs, strict=True)]
    params = make_threshold_parameters(group, certs, polys, vouts)
    shares = tuple(
        decrypt_share(group, s, v.private_key) for s, v in zip(seeds, vouts, strict=True)
    )
    secret = mpz(0)
    for s, cert, p in zip(seeds, certs, polys, strict=True):
        keys = derive_keys(group, s)
        raw = RawPolynomial.from_json(
            loads(receive(group, keys, cert.keys.verification, p.polynomial, Location(path=("p",))))
        )
        assert len(raw.coefficients) == t
        secret = (secret + raw.coefficients[0]) % group.q
    return Ceremony(seeds, certs, params, shares, secret)


@pytest.mark.parametrize(
    ("group", "n", "t"),
    [(BELENIOS_2048, 3, 2), (BELENIOS_2048, 4, 4), (BELENIOS_2048, 5, 1), (RFC_3526_2048, 2, 2)],
    ids=["B-2of3", "B-4of4", "B-1of5", "RFC-2of2"],
)
def test_ceremony_produces_consistent_parameters(group: Group, n: int, t: int) -> None:
    c = ceremony(group, n, t)
    assert c.params.threshold == t
    assert len(c.params.verification_keys) == n
    assert all(len(e.values) == t for e in c.params.coefexps)
    check_threshold_parameters(group, c.params)
    assert ThresholdParameters.from_json(loads(dumps(c.params.to_json()))) == c.params
    for x, key in zip(c.shares, c.params.verification_keys, strict=True):
        assert group.powg(x.value) == key.public_key
    assert pedersen_public_key(group, c.params) == group.powg(c.secret)
    # any t shares reconstruct the secret; fewer do not
    for subset in itertools.combinations(range(1, n + 1), t):
        got = (
            sum(lagrange_coefficient(subset, d, group.q) * c.shares[d - 1].value for d in subset)
            % group.q
        )
        assert got == c.secret
    if t > 1:
        subset = tuple(range(1, t))
        got = (
            sum(lagrange_coefficient(subset, d, group.q) * c.shares[d - 1].value for d in subset)
            % group.q
        )
        assert got != c.secret


def test_published_parameters_tampering_is_caught() -> None:
    g = BELENIOS_2048
    c = ceremony(g, 3, 2)
    p = c.params
    vks = p.verification_keys
    swapped = replace(p, verification_keys=(vks[1], vks[0], vks[2]))
    with pytest.raises(KeyCeremonyError) as err:
        check_threshold_parameters(g, swapped, Location(path=("tp",)))
    assert err.value.where == Location(trustee=1, path=("tp", "verification_key"))
    bad_pok = TrusteePublicKey(
        vks[2].public_key, replace(vks[2].pok, challenge=vks[2].pok.challenge ^ 1)
    )
    with pytest.raises(ProofError):
        check_threshold_parameters(g, replace(p, verification_keys=(vks[0], vks[1], bad_pok)))
    with pytest.raises(KeyCeremonyError, match="threshold"):
        check_threshold_parameters(g, replace(p, threshold=4))
    with pytest.raises(KeyCeremonyError, match="coefexps, expected 1"):
        check_threshold_parameters(g, replace(p, threshold=1))
    certs = p.certs
    with pytest.raises(ProofError) as err2:
        check_threshold_parameters(g, replace(p, certs=(certs[0], certs[2], certs[1])))
    assert err2.value.where.trustee == 2
    bad_cert = Cert(
        certs[0].message, certs[0].signature, replace(certs[0].keys, encryption=g.p - 1)
    )
    with pytest.raises(GroupMembershipError):
        check_threshold_parameters(g, replace(p, certs=(bad_cert, *certs[1:])))


def test_trustee_step_checks() -> None:
    g = BELENIOS_2048
    c = ceremony(g, 3, 2)
    rng = SeededRandom("steps")
    with pytest.raises(KeyCeremonyError, match="threshold must be between 1 and 3"):
        make_polynomial(g, c.certs, c.seeds[0], 4, rng)
    with pytest.raises(KeyCeremonyError, match="threshold must be between"):
        make_polynomial(g, c.certs, c.seeds[0], 0, rng)
    stranger, _ = generate_cert(g, rng)
    with pytest.raises(KeyCeremonyError, match="none of the certificates") as err:
        make_polynomial(g, c.certs, stranger, 2, rng)
    assert err.value.where == Location(path=("step 3", "key"))
    with pytest.raises(KeyCeremonyError, match="same keys as trustee 1") as err2:
        make_polynomial(g, (*c.certs, c.certs[0]), c.seeds[0], 2, rng)
    assert err2.value.where == Location(trustee=4, path=("step 3", "cert"))
    with pytest.raises(KeyCeremonyError, match="no certificates"):
        check_certs(g, [])
    # success twin on the same inputs
    assert len(make_polynomial(g, c.certs, c.seeds[1], 2, rng).secrets) == 3


def test_step_6_rejects_wrong_counts() -> None:
    g = BELENIOS_2048
    rng = SeededRandom("counts")
    pairs = [generate_cert(g, rng) for _ in range(2)]
    certs = [cert for _, cert in pairs]
    polys = [make_polynomial(g, certs, s, 2, rng) for s, _ in pairs]
    vinputs = compute_vinputs(g, certs, polys)
    vouts = [make_voutput(g, certs, s, v, rng) for (s, _), v in zip(pairs, vinputs, strict=True)]
    assert make_threshold_parameters(g, certs, polys, vouts).threshold == 2
    v = vinputs[0]
    with pytest.raises(KeyCeremonyError, match="1 secrets and 2 coefexps for 2 trustees") as err0:
        make_voutput(g, certs, pairs[0][0], VInput(v.polynomial, v.secrets[:1], v.coefexps), rng)
    assert err0.value.where == Location(trustee=1, path=("step 5", "vinput"))
    assert str(err0.value.where) == "trustee 1 / step 5 / vinput"
    short = tuple(Coefexps(c.message, c.signature, ()) for c in v.coefexps)
    with pytest.raises(KeyCeremonyError, match="0 coefexps per trustee"):
        make_voutput(g, certs, pairs[0][0], VInput(v.polynomial, v.secrets, short), rng)
    with pytest.raises(KeyCeremonyError, match="1 voutputs for 2 trustees"):
        make_threshold_parameters(g, certs, polys, vouts[:1])
    with pytest.raises(KeyCeremonyError, match="1 polynomials for 2 trustees"):
        make_threshold_parameters(g, certs, polys[:1], vouts)
    mixed = [polys[0], make_polynomial(g, certs, pairs[1][0], 1, rng)]
    with pytest.raises(KeyCeremonyError, match="1 coefexps, expected 2") as err:
        compute_vinputs(g, certs, mixed)
    assert err.value.where == Location(trustee=2, path=("step 4", "polynomial", "coefexps"))


# ---------------------------------------------------------------------------- Lagrange


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=1, max_value=7),
    coefficients=st.lists(st.integers(min_value=0), min_size=1, max_size=7),
)
def test_any_t_shares_reconstruct_the_secret(
    data: st.DataObject, n: int, coefficients: list[int]
) -> None:
    q = BELENIOS_2048.q
    t = min(len(coefficients), n)
    coeffs = [mpz(a) % q for a in coefficients[:t]]
    shares = {j: sum(a * j**k for k, a in enumerate(coeffs)) % q for j in range(1, n + 1)}
    subset = data.draw(
        st.lists(st.sampled_from(range(1, n + 1)), min_size=t, max_size=t, unique=True)
    )
    lam = {d: lagrange_coefficient(subset, d, q) for d in subset}
    assert sum(lam[d] * shares[d] for d in subset) % q == coeffs[0]
    if t > 1:  # failure twin: one share short, the interpolation misses (w.h.p.)
        short = subset[:-1]
        guess = sum(lagrange_coefficient(short, d, q) * shares[d] for d in short) % q
        # f - L vanishes on the t-1 points, so f(0) - L(0) = a_{t-1} * Π(-k): zero iff a_{t-1} = 0
        assert (guess == coeffs[0]) == (coeffs[-1] == 0)


@settings(max_examples=8, deadline=None)
@given(data=st.data(), secret=st.integers(min_value=0, max_value=2**256))
def test_reconstruction_in_the_exponent(data: st.DataObject, secret: int) -> None:
    g = BELENIOS_2048
    rng = SeededRandom(secret)
    coeffs = [mpz(secret) % g.q, *(mpz(rng.randbelow(int(g.q))) for _ in range(2))]
    keys = {j: g.powg(sum(a * j**k for k, a in enumerate(coeffs)) % g.q) for j in range(1, 6)}
    subset = data.draw(st.lists(st.sampled_from(range(1, 6)), min_size=3, max_size=3, unique=True))
    y = g.prod([g.pow(keys[d], lagrange_coefficient(subset, d, g.q)) for d in subset])
    assert y == g.powg(coeffs[0])


def test_lagrange_rejects_bad_index_sets() -> None:
    q = BELENIOS_2048.q
    assert lagrange_coefficient([1, 2], 1, q) == 2
    assert lagrange_coefficient([1, 2], 2, q) == q - 1
    for indices, delta in [([1, 2], 3), ([1, 1, 2], 1), ([0, 1], 1)]:
        with pytest.raises(TallyError):
            lagrange_coefficient(indices, delta, q)


# ---------------------------------------------------------------------------- combination


def _mixed(g: Group) -> tuple[Trustees, TrusteePrivateKey, Ceremony]:
    rng = SeededRandom("mixed")
    single_sk, single_pk = generate_trustee_key(g, rng)
    c = ceremony(g, 3, 2)
    return Trustees((SingleItem(single_pk), PedersenItem(c.params))), single_sk, c


def test_combined_factors_decrypt_a_ciphertext() -> None:
    """[Single, Pedersen 2-of-3]: ids 1 (Single), 2..4 (Pedersen); any 2 of 2..4 with 1 work."""
    g = BELENIOS_2048
    trustees, single_sk, c = _mixed(g)
    check_trustees(g, trustees)
    y = trustees.public_key(g)
    assert y == g.powg((single_sk.value + c.secret) % g.q)
    rng = SeededRandom("ct")
    r, m = mpz(rng.randbelow(int(g.q))), 7
    alpha, beta = g.powg(r), g.mul(g.powg(m), g.pow(y, r))
    secrets = {1: single_sk.value, 2: c.shares[0].value, 3: c.shares[1].value, 4: c.shares[2].value}
    factors = {tid: g.pow(alpha, x) for tid, x in secrets.items()}
    for supplied in ([1, 2, 3], [1, 3, 4], [1, 2, 4], [1, 2, 3, 4]):
        weights = decryption_weights(g, trustees, supplied)
        assert sorted(weights) == supplied
        assert weights[1] == 1
        f = combine_factors(g, weights, factors)
        assert g.div(beta, f) == g.powg(m)
    # failure twin: a wrong factor gives a wrong plaintext
    weights = decryption_weights(g, trustees, [1, 2, 3])
    assert g.div(
        beta, combine_factors(g, weights, {**factors, 3: g.mul(factors[3], g.g)})
    ) != g.powg(m)


def test_decryption_weights_require_enough_trustees() -> None:
    g = BELENIOS_2048
    trustees, _, _ = _mixed(g)
    with pytest.raises(TallyError, match="missing partial decryption of trustee 1"):
        decryption_weights(g, trustees, [2, 3, 4])
    with pytest.raises(TallyError, match="1 partial decryption\\(s\\) for a threshold of 2"):
        decryption_weights(g, trustees, [1, 4])
    with pytest.raises(TallyError, match="unknown trustee"):
        decryption_weights(g, trustees, [1, 2, 5])
