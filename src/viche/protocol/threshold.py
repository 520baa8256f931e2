"""The Pedersen threshold key ceremony (spec 3.1.1, 4.6.4-4.6.7) and threshold decryption
helpers (spec 4.19).

``threshold`` is always the number of trustees *needed* to decrypt (belenios-tool's
``--threshold``, the ``threshold`` field): polynomials have degree ``threshold - 1`` and
``threshold`` coefficients. Trustees are numbered 1..m in certs order. Every function is pure
over values; randomness comes from a :class:`~viche.crypto.rng.RandomSource` argument.

Ceremony (mirrors ``belenios-tool setup generate-trustee-key-threshold --step N``):

1. trustee: :func:`generate_cert` -> ``(seed, cert)`` (the ``.key`` and ``.cert`` files);
   server: :func:`check_cert` on each cert.
2. server: :func:`check_certs` on Γ (the list of certs, ``certs.jsons``).
3. trustee: :func:`make_polynomial` (checks Γ and that its seed owns one cert) -> ``Polynomial``;
   server: :func:`check_polynomial` / :func:`check_polynomials` (signatures, shapes).
4. server: :func:`compute_vinputs` -> one ``VInput`` per trustee.
5. trustee: :func:`make_voutput` checks its vinput (g^s_ij = Π_k A_ik^(j^k)) and returns a
   ``VOutput``; server: :func:`check_voutput`.
6. server: :func:`make_threshold_parameters` assembles and checks; anyone:
   :func:`check_threshold_parameters`; trustee: :func:`decrypt_share` opens its ``.dkey`` (the
   voutput's ``private_key``) to get x_j.

Errors: :class:`~viche.errors.ProofError` for a bad signature or proof,
:class:`~viche.errors.KeyCeremonyError` for inconsistent data, each with ``where`` naming the
step and the trustee (``"step 5 / trustee 2 / vinput / secrets[1]"``).

Decryption helpers: :func:`pedersen_public_key`, :func:`lagrange_coefficient`,
:func:`decryption_weights` (the exponent of each supplied trustee's factor) and
:func:`combine_factors` (the synthetic factor F = Π sub-factors for one ciphertext), and
:func:`check_trustees` (the full check of an election's trustees structure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gmpy2 import mpz

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource, random_zq
from viche.crypto.trustee import (
    TrusteePrivateKey,
    check_trustee_public_key,
    trustee_key_from_private,
)
from viche.errors import KeyCeremonyError, Location, TallyError
from viche.protocol.channels import (
    ChannelKeys,
    check_signed,
    derive_keys,
    generate_seed,
    receive,
    send,
    sign,
)
from viche.protocol.codec import dumps, loads, sub
from viche.protocol.trustees import (
    Cert,
    Coefexps,
    DecryptionKey,
    EncryptedMsg,
    PedersenItem,
    Polynomial,
    RawPolynomial,
    SecretShare,
    SingleItem,
    ThresholdParameters,
    Trustees,
    VInput,
    VOutput,
)

# ---------------------------------------------------------------------------- step 1


def cert_for_keys(group: Group, keys: ChannelKeys, rng: RandomSource) -> Cert:
    """The certificate of a trustee's PKI keys (signed with its signing key)."""
    message = dumps(keys.public.to_json())
    signed = sign(group, keys.signing_key, message, rng)
    return Cert(signed.message, signed.signature, keys.public)


def generate_cert(group: Group, rng: RandomSource) -> tuple[str, Cert]:
    """Step 1 (trustee): a fresh seed (secret, the ``.key`` file) and its certificate."""
    seed = generate_seed(rng)
    return seed, cert_for_keys(group, derive_keys(group, seed), rng)


def check_cert(group: Group, cert: Cert, where: Location = Location(path=("cert",))) -> None:
    """Server check of one cert: both keys in the group, signature by its verification key."""
    group.check_element(cert.keys.verification, where=where.sub("verification"))
    group.check_element(cert.keys.encryption, where=where.sub("encryption"))
    check_signed(group, cert.keys.verification, cert.signed, where)


# ---------------------------------------------------------------------------- step 2


def check_certs(group: Group, certs: Sequence[Cert], step: int = 2) -> None:
    """Step 2 (server), and the check of Γ by each trustee in steps 3 and 5."""
    if not certs:
        raise KeyCeremonyError("no certificates", where=Location(path=(f"step {step}", "certs")))
    seen: dict[tuple[mpz, mpz], int] = {}
    for z, cert in enumerate(certs, start=1):
        where = Location(trustee=z, path=(f"step {step}", "cert"))
        check_cert(group, cert, where)
        pair = (cert.keys.verification, cert.keys.encryption)
        if pair in seen:
            raise KeyCeremonyError(f"same keys as trustee {seen[pair]}", where=where)
        seen[pair] = z


def own_index(group: Group, certs: Sequence[Cert], keys: ChannelKeys, step: int) -> int:
    """The 1-based index of the cert that belongs to ``keys``."""
    for z, cert in enumerate(certs, start=1):
        if (
            cert.keys.verification == keys.verification_key
            and cert.keys.encryption == keys.encryption_key
        ):
            return z
    raise KeyCeremonyError(
        "this key matches none of the certificates", where=Location(path=(f"step {step}", "key"))
    )


# ---------------------------------------------------------------------------- step 3


def _eval(coefficients: Sequence[mpz], x: int, q: mpz) -> mpz:
    acc = mpz(0)
    for a in reversed(coefficients):
        acc = (acc * x + a) % q
    return acc


def make_polynomial(
    group: Group, certs: Sequence[Cert], seed: str, threshold: int, rng: RandomSource
) -> Polynomial:
    """Step 3 (trustee i): check Γ, pick f_i of degree threshold-1, send f_i to itself, s_ij
    = f_i(j) to every trustee j, and sign the coefexps A_ik = g^a_ik."""
    check_certs(group, certs, step=3)
    m = len(certs)
    if not 1 <= threshold <= m:
        raise KeyCeremonyError(
            f"threshold must be between 1 and {m}, got {threshold}",
            where=Location(path=("step 3", "threshold")),
        )
    keys = derive_keys(group, seed, where=Location(path=("step 3", "key")))
    own_index(group, certs, keys, step=3)  # the seed must own one of the certs
    coefficients = tuple(random_zq(rng, group.q) for _ in range(threshold))
    sk, ek = keys.signing_key, keys.encryption_key
    polynomial = send(group, sk, ek, dumps(RawPolynomial(coefficients).to_json()), rng)
    secrets = tuple(
        send(
            group,
            sk,
            cert.keys.encryption,
            dumps(SecretShare(_eval(coefficients, j, group.q)).to_json()),
            rng,
        )
        for j, cert in enumerate(certs, start=1)
    )
    values = tuple(group.powg(a) for a in coefficients)
    signed = sign(group, sk, Coefexps.message_of(values), rng)
    return Polynomial(polynomial, secrets, Coefexps(signed.message, signed.signature, values))


def check_coefexps(
    group: Group, cert: Cert, coefexps: Coefexps, threshold: int | None, where: Location
) -> None:
    check_signed(group, cert.keys.verification, coefexps.signed, where)
    if threshold is not None and len(coefexps.values) != threshold:
        raise KeyCeremonyError(
            f"{len(coefexps.values)} coefexps, expected {threshold}", where=where
        )
    for k, a in enumerate(coefexps.values):
        group.check_element(a, where=where.sub(f"coefexps[{k}]"))


def check_polynomial(
    group: Group,
    certs: Sequence[Cert],
    polynomial: Polynomial,
    index: int,
    *,
    threshold: int | None = None,
    where: Location | None = None,
) -> None:
    """Server check of trustee ``index``'s (1-based) polynomial: one secret per trustee, each
    a well-formed encrypted_msg, and coefexps signed by that trustee."""
    where = where or Location(trustee=index, path=("step 3", "polynomial"))
    m = len(certs)
    if len(polynomial.secrets) != m:
        raise KeyCeremonyError(
            f"{len(polynomial.secrets)} secrets for {m} trustees", where=where.sub("secrets")
        )
    if not polynomial.coefexps.values or len(polynomial.coefexps.values) > m:
        raise KeyCeremonyError(
            f"{len(polynomial.coefexps.values)} coefexps for {m} trustees",
            where=where.sub("coefexps"),
        )
    _check_encrypted_shape(group, polynomial.polynomial, where.sub("polynomial"))
    for j, text in enumerate(polynomial.secrets, start=1):
        _check_encrypted_shape(group, text, where.sub(f"secrets[{j}]"))
    check_coefexps(group, certs[index - 1], polynomial.coefexps, threshold, where.sub("coefexps"))


def _check_encrypted_shape(group: Group, text: str, where: Location) -> None:
    msg = EncryptedMsg.parse(text, where)
    group.check_element(msg.alpha, where=where.sub("alpha"))
    group.check_element(msg.beta, where=where.sub("beta"))


def check_polynomials(
    group: Group, certs: Sequence[Cert], polynomials: Sequence[Polynomial]
) -> int:
    """Step 4 (server) check of every polynomial; returns the common threshold."""
    if len(polynomials) != len(certs):
        raise KeyCeremonyError(
            f"{len(polynomials)} polynomials for {len(certs)} trustees",
            where=Location(path=("step 4", "polynomials")),
        )
    threshold = len(polynomials[0].coefexps.values)
    for i, p in enumerate(polynomials, start=1):
        check_polynomial(
            group,
            certs,
            p,
            i,
            threshold=threshold,
            where=Location(trustee=i, path=("step 4", "polynomial")),
        )
    return threshold


# ---------------------------------------------------------------------------- step 4


def compute_vinputs(
    group: Group, certs: Sequence[Cert], polynomials: Sequence[Polynomial]
) -> list[VInput]:
    """Step 4 (server): route secret j of every polynomial to trustee j (after the checks)."""
    check_certs(group, certs, step=4)
    check_polynomials(group, certs, polynomials)
    coefexps = tuple(p.coefexps for p in polynomials)
    return [
        VInput(pj.polynomial, tuple(p.secrets[j] for p in polynomials), coefexps)
        for j, pj in enumerate(polynomials)
    ]


# ---------------------------------------------------------------------------- step 5


def _expected_share_key(group: Group, values: Sequence[mpz], j: int) -> mpz:
    """Π_k A_k^(j^k)."""
    acc = mpz(1)
    power = mpz(1)
    for a in values:
        acc = group.mul(acc, group.pow(a, power))
        power = power * j % group.q
    return acc


def make_voutput(
    group: Group, certs: Sequence[Cert], seed: str, vinput: VInput, rng: RandomSource
) -> VOutput:
    """Step 5 (trustee j): check Γ and the vinput, then return x_j = Σ_i s_ij encrypted to
    itself and g^x_j with a proof of knowledge."""
    check_certs(group, certs, step=5)
    keys = derive_keys(group, seed, where=Location(path=("step 5", "key")))
    j = own_index(group, certs, keys, step=5)
    base = Location(trustee=j, path=("step 5", "vinput"))
    m = len(certs)
    if len(vinput.secrets) != m or len(vinput.coefexps) != m:
        raise KeyCeremonyError(
            f"{len(vinput.secrets)} secrets and {len(vinput.coefexps)} coefexps for {m} trustees",
            where=base,
        )
    threshold = len(vinput.coefexps[0].values)
    if not 1 <= threshold <= m:
        raise KeyCeremonyError(
            f"{threshold} coefexps per trustee for {m} trustees", where=base.sub("coefexps[1]")
        )
    for i, (cert, coefexps) in enumerate(zip(certs, vinput.coefexps, strict=True), start=1):
        check_coefexps(group, cert, coefexps, threshold, base.sub(f"coefexps[{i}]"))
    # own polynomial: must be the one whose coefexps trustee j signed
    where = base.sub("polynomial")
    raw = RawPolynomial.from_json(
        loads(receive(group, keys, keys.verification_key, vinput.polynomial, where), where), where
    )
    if tuple(group.powg(a) for a in raw.coefficients) != vinput.coefexps[j - 1].values:
        raise KeyCeremonyError("own polynomial does not match own coefexps", where=where)
    total = mpz(0)
    for i, (cert, text) in enumerate(zip(certs, vinput.secrets, strict=True), start=1):
        where = base.sub(f"secrets[{i}]")
        share = SecretShare.from_json(
            loads(receive(group, keys, cert.keys.verification, text, where), where), where
        )
        if group.powg(share.value) != _expected_share_key(group, vinput.coefexps[i - 1].values, j):
            raise KeyCeremonyError(
                f"secret from trustee {i} does not match its coefexps", where=where
            )
        total = (total + share.value) % group.q
    private_key = send(
        group,
        keys.signing_key,
        keys.encryption_key,
        dumps(DecryptionKey(total).to_json()),
        rng,
    )
    return VOutput(private_key, trustee_key_from_private(group, TrusteePrivateKey(total), rng))


def verification_key_bases(group: Group, coefexps: Sequence[Coefexps]) -> list[mpz]:
    """B_k = Π_i A_ik, so that the verification key of trustee j is Π_k B_k^(j^k)."""
    width = len(coefexps[0].values)
    return [group.prod([c.values[k] for c in coefexps]) for k in range(width)]


def expected_verification_key(group: Group, coefexps: Sequence[Coefexps], j: int) -> mpz:
    """Π_i Π_k A_ik^(j^k) (spec 4.6.6)."""
    return _expected_share_key(group, verification_key_bases(group, coefexps), j)


def check_voutput(
    group: Group,
    coefexps: Sequence[Coefexps],
    voutput: VOutput,
    index: int,
    where: Location | None = None,
) -> None:
    """Server check of trustee ``index``'s voutput: its public key is Π_i Π_k A_ik^(j^k) and
    its proof of knowledge verifies; the private_key is a well-formed encrypted_msg."""
    where = where or Location(trustee=index, path=("step 6", "voutput"))
    _check_encrypted_shape(group, voutput.private_key, where.sub("private_key"))
    expected = expected_verification_key(group, coefexps, index)
    if voutput.public_key.public_key != expected:
        raise KeyCeremonyError(
            "public key differs from the one the coefexps determine", where=where.sub("public_key")
        )
    check_trustee_public_key(group, voutput.public_key, where=where.sub("public_key"))


# ---------------------------------------------------------------------------- step 6


def make_threshold_parameters(
    group: Group,
    certs: Sequence[Cert],
    polynomials: Sequence[Polynomial],
    voutputs: Sequence[VOutput],
) -> ThresholdParameters:
    """Step 6 (server): check everything and assemble the threshold parameters."""
    check_certs(group, certs, step=6)
    threshold = check_polynomials(group, certs, polynomials)
    if len(voutputs) != len(certs):
        raise KeyCeremonyError(
            f"{len(voutputs)} voutputs for {len(certs)} trustees",
            where=Location(path=("step 6", "voutputs")),
        )
    coefexps = tuple(p.coefexps for p in polynomials)
    for j, vo in enumerate(voutputs, start=1):
        check_voutput(group, coefexps, vo, j)
    return ThresholdParameters(
        threshold=threshold,
        certs=tuple(certs),
        coefexps=coefexps,
        verification_keys=tuple(vo.public_key for vo in voutputs),
    )


def check_threshold_parameters(
    group: Group,
    params: ThresholdParameters,
    where: Location = Location(path=("threshold_parameters",)),
) -> None:
    """Full check of published threshold parameters: certs, coefexps signatures and sizes,
    every verification key against the coefexps, and every proof of knowledge."""
    m = params.size
    if not 1 <= params.threshold <= m:
        raise KeyCeremonyError(f"threshold {params.threshold} outside 1..{m}", where=where)
    if len(params.coefexps) != m or len(params.verification_keys) != m:
        raise KeyCeremonyError(
            "certs, coefexps and verification keys differ in number", where=where
        )
    for z, cert in enumerate(params.certs, start=1):
        check_cert(group, cert, where.at(trustee=z).sub("cert"))
    for z, (cert, c) in enumerate(zip(params.certs, params.coefexps, strict=True), start=1):
        check_coefexps(group, cert, c, params.threshold, where.at(trustee=z).sub("coefexps"))
    bases = verification_key_bases(group, params.coefexps)
    for j, key in enumerate(params.verification_keys, start=1):
        w = where.at(trustee=j).sub("verification_key")
        if key.public_key != _expected_share_key(group, bases, j):
            raise KeyCeremonyError("verification key does not match the coefexps", where=w)
        check_trustee_public_key(group, key, where=w)


def decrypt_share(
    group: Group, seed: str, private_key: str, where: Location = Location(path=("decryption key",))
) -> TrusteePrivateKey:
    """Trustee: open the voutput's ``private_key`` (the ``.dkey`` file) to get x_j."""
    keys = derive_keys(group, seed, where=where.sub("key"))
    plain = receive(group, keys, keys.verification_key, private_key.rstrip("\n"), where)
    value = DecryptionKey.from_json(loads(plain, where=where), where).value
    # belenios-tool writes the sum of the shares without reducing it mod q
    return TrusteePrivateKey(value % group.q)


# ---------------------------------------------------------------------------- decryption


def pedersen_public_key(group: Group, params: ThresholdParameters) -> mpz:
    """The sub-key Π_z A_z0 of a Pedersen item."""
    return params.public_key(group)


def lagrange_coefficient(indices: Iterable[int], delta: int, q: mpz) -> mpz:
    """λ_δ = Π_{k ∈ I, k ≠ δ} k / (k - δ) mod q, over 1-based indices I containing δ."""
    idx = list(indices)
    if delta not in idx or len(set(idx)) != len(idx) or any(k < 1 for k in idx):
        raise TallyError(
            f"Lagrange indices {idx} must be distinct, positive and contain {delta}",
            where=Location(path=("lagrange coefficient",)),
        )
    num = mpz(1)
    den = mpz(1)
    for k in idx:
        if k != delta:
            num = num * k % q
            den = den * (k - delta) % q
    return num * pow(den, -1, q) % q


def decryption_weights(
    group: Group,
    trustees: Trustees,
    supplied: Iterable[int],
    where: Location = Location(path=("partial decryptions",)),
) -> dict[int, mpz]:
    """The exponent applied to each supplied trustee's decryption factor (spec 4.19): 1 for
    a Single trustee, λ over the supplied indices of its item for a Pedersen one.

    ``supplied`` are 1-based flattened trustee ids. Raises :class:`~viche.errors.TallyError`
    when a Single trustee is missing, a Pedersen item has fewer than ``threshold`` shares,
    or an id is unknown.
    """
    flat = trustees.flat()
    ids = set(supplied)
    unknown = sorted(i for i in ids if not 1 <= i <= len(flat))
    if unknown:
        raise TallyError(f"unknown trustee id(s) {unknown}", where=where)
    weights: dict[int, mpz] = {}
    for n, item in enumerate(trustees.items):
        members = [t for t in flat if t.item == n]
        if isinstance(item, SingleItem):
            tid = members[0].trustee_id
            if tid not in ids:
                raise TallyError(f"missing partial decryption of trustee {tid}", where=where)
            weights[tid] = mpz(1)
        else:
            present = [t for t in members if t.trustee_id in ids]
            if len(present) < item.params.threshold:
                raise TallyError(
                    f"{len(present)} partial decryption(s) for a threshold of "
                    f"{item.params.threshold} (trustees "
                    f"{members[0].trustee_id}..{members[-1].trustee_id})",
                    where=where,
                )
            indices = [t.index for t in present]
            for t in present:
                weights[t.trustee_id] = lagrange_coefficient(indices, t.index, group.q)
    return weights


def combine_factors(group: Group, weights: Mapping[int, mpz], factors: Mapping[int, mpz]) -> mpz:
    """The synthetic factor F = Π_id factors[id]^weights[id] for one ciphertext."""
    acc = mpz(1)
    for tid, w in weights.items():
        acc = group.mul(acc, group.pow(factors[tid], w))
    return acc


def check_trustees(
    group: Group, trustees: Trustees, where: Location = Location(path=("trustees",))
) -> None:
    """Check every Single key and every Pedersen item of an election's trustees structure."""
    for n, item in enumerate(trustees.items):
        w = sub(where, n)
        if isinstance(item, PedersenItem):
            check_threshold_parameters(group, item.params, where=w)
        else:
            check_trustee_public_key(group, item.key, where=w)
