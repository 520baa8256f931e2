"""Zero-knowledge proofs on ElGamal ciphertexts (specification 4.11.2, 4.12, 4.13, 4.18).

Interval proofs (``prove``), blank proofs (``bproof0``) and overall blank proofs
(``bproof1``) are all disjunctive Chaum-Pedersen proofs of the same shape: a list of
*branches* ``(a_j, b_j)``, one of which satisfies ``a_j = g^r`` and ``b_j = y^r`` for a
known r. Each branch gets a proof ``π_j``; the verifier recomputes

    A_j = g^response_j * a_j^challenge_j      B_j = y^response_j * b_j^challenge_j

and checks that the challenges sum (mod q) to the hash of a string ending with
``A_0,B_0,...,A_k,B_k``. The proofs only differ in how branches and hashed strings are
built, so one engine (:func:`or_prove` / :func:`or_check`) serves the three of them.

Check functions return ``False`` for any proof that does not verify, including challenges
or responses outside ``[0, q)`` and wrong numbers of proofs; they never raise for a bad
proof. They do **not** check that ciphertext components, factors or public keys are group
elements: the caller (the parser or the verifier) must do that first with
``Group.check_element``, as the soundness of these proofs depends on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.fastexp import precomputed_product_text
from viche.crypto.group import Group
from viche.crypto.hashing import hash_to_zq
from viche.crypto.rng import RandomSource, random_zq
from viche.crypto.schnorr import Proof, schnorr_check, schnorr_prove
from viche.errors import BallotShapeError

#: A branch ``(a, b, m)`` of a disjunctive proof; it holds when a = g^r and b / g^m = y^r
#: (m = 0: b = y^r; a branch stating that ``(a, b)`` encrypts m).
Branch = tuple[mpz, mpz, int]
#: Builds the hashed string from the decimal texts of the commitments ``[A0, B0, A1, B1,
#: ...]``.
CommitString = Callable[[list[str]], str]


def _in_zq(group: Group, proof: Proof) -> bool:
    return 0 <= proof.challenge < group.q and 0 <= proof.response < group.q


def _join(texts: Sequence[str]) -> str:
    return ",".join(texts)


# ---------------------------------------------------------------------- the OR engine


def branch_commitments(pk: PublicKey, branch: Branch, proof: Proof) -> tuple[str, str]:
    """The decimal texts of ``(g^response a^challenge, y^response (b / g^m)^challenge)``:
    what the verifier re-derives (and hashes). ``b / g^m`` is ``b · g^(-m mod q)`` (g has
    order q: no inversion, and the power comes from g's table).

    The one place where verification spends its exponentiations (an optimised
    implementation replaces this with fixed-base tables and multi-exponentiation): inside a
    :func:`~viche.crypto.fastexp.precomputed_powers` block that holds them (a ballot check,
    :mod:`viche.verify.prefill`), both texts are read from it, keyed ``(g, response, a,
    challenge, 0)`` and ``(y, response, b, challenge, m)``.
    """
    group = pk.group
    a, b, m = branch
    c, s, p = proof.challenge, proof.response, group.p
    big_a = precomputed_product_text(group.g, s, a, c, 0, p)  # a ballot check computes them
    if big_a is None:
        big_a = str(group.powg(s) * group.pow(a, c) % p)
    big_b = precomputed_product_text(pk.y, s, b, c, m, p)
    if big_b is None:
        shifted = group.mul(b, group.powg(-m % group.q)) if m else b
        big_b = str(pk.pow(s) * group.pow(shifted, c) % p)
    return big_a, big_b


def or_prove(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    branches: Sequence[Branch],
    real: int,
    r: mpz,
    hashed: CommitString,
    rng: RandomSource,
) -> tuple[Proof, ...]:
    """Prove that branch ``real`` holds with witness r, hiding which one (spec 4.12 steps)."""
    group = pk.group
    q = group.q
    if not 0 <= real < len(branches):
        raise BallotShapeError(  # never name the true branch: it is the secret vote
            f"the true branch is not among the {len(branches)} branches of the proof"
        )
    commits: list[str] = []
    simulated: dict[int, Proof] = {}
    w = mpz(0)
    for j, branch in enumerate(branches):
        if j == real:
            w = random_zq(rng, q)
            commits += [str(group.powg(w)), str(pk.pow(w))]
        else:
            fake = Proof(challenge=random_zq(rng, q), response=random_zq(rng, q))
            simulated[j] = fake
            commits += branch_commitments(pk, branch, fake)
    h = hash_to_zq(hashed(commits), q)
    c_real = (h - sum((p.challenge for p in simulated.values()), mpz(0))) % q
    real_proof = Proof(challenge=c_real, response=(w - r * c_real) % q)
    return tuple(real_proof if j == real else simulated[j] for j in range(len(branches)))


def or_check(
    pk: PublicKey, branches: Sequence[Branch], proofs: Sequence[Proof], hashed: CommitString
) -> bool:
    """True when ``proofs`` is a valid disjunctive proof over ``branches``."""
    group = pk.group
    if len(proofs) != len(branches) or not proofs:
        return False
    if not all(_in_zq(group, p) for p in proofs):
        return False
    commits: list[str] = []
    for branch, proof in zip(branches, proofs, strict=True):
        commits.extend(branch_commitments(pk, branch, proof))
    total = sum((p.challenge for p in proofs), mpz(0)) % group.q
    return hash_to_zq(hashed(commits), group.q) == total


def _shifted(ct: Ciphertext, m: int) -> Branch:
    """The branch ``(α, β, m)`` stating that ct encrypts m."""
    return ct.alpha, ct.beta, m


# ---------------------------------------------------------------------- interval (4.12)


def _interval_string(tag: str, prefix: str, ct: Ciphertext) -> CommitString:
    head = f"{tag}|{prefix}|{ct.alpha_text},{ct.beta_text}|"
    return lambda commits: head + _join(commits)


def iprove(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    prefix: str,
    ct: Ciphertext,
    r: mpz,
    index: int,
    values: Sequence[int],
    rng: RandomSource,
    tag: str = "prove",
) -> tuple[Proof, ...]:
    """``iprove(S, r, index, M_0..M_k)``: ct = (g^r, y^r g^M_index) is in ``values``.

    The hashed string is ``{tag}|{prefix}|α,β|A0,B0,...,Ak,Bk``.
    """
    branches = [_shifted(ct, m) for m in values]
    return or_prove(pk, branches, index, r, _interval_string(tag, prefix, ct), rng)


def icheck(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    prefix: str,
    ct: Ciphertext,
    proofs: Sequence[Proof],
    values: Sequence[int],
    tag: str = "prove",
) -> bool:
    """Verify an interval proof made by :func:`iprove` (one proof per value)."""
    branches = [_shifted(ct, m) for m in values]
    return or_check(pk, branches, proofs, _interval_string(tag, prefix, ct))


# ---------------------------------------------------------------------- blank (4.13)


def _tagged_string(tag: str, prefix: str) -> CommitString:
    head = f"{tag}|{prefix}|"
    return lambda commits: head + _join(commits)


def prove_blank(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    prefix: str,
    ct0: Ciphertext,
    r0: mpz,
    ct_sigma: Ciphertext,
    r_sigma: mpz,
    *,
    blank: bool,
    rng: RandomSource,
) -> tuple[Proof, Proof]:
    """``blank_proof`` (spec 4.13): ``m0 = 0 ∨ mΣ = 0`` as ``(π0, πΣ)``.

    ``ct0`` encrypts the blank flag m0 with randomness r0; ``ct_sigma`` is the product of
    the other choices (encrypting mΣ with randomness r_sigma = the sum of their r).
    ``blank`` says which side is true: False proves m0 = 0, True proves mΣ = 0. The hashed
    string is ``bproof0|S|A0,B0,AΣ,BΣ`` whichever side is real.
    """
    branches = [_shifted(ct0, 0), _shifted(ct_sigma, 0)]
    real, r = (1, r_sigma) if blank else (0, r0)
    p0, p1 = or_prove(pk, branches, real, r, _tagged_string("bproof0", prefix), rng)
    return p0, p1


def check_blank(
    pk: PublicKey,
    prefix: str,
    ct0: Ciphertext,
    ct_sigma: Ciphertext,
    proofs: Sequence[Proof],
) -> bool:
    """Verify a ``blank_proof`` made by :func:`prove_blank` (exactly two proofs)."""
    branches = [_shifted(ct0, 0), _shifted(ct_sigma, 0)]
    return or_check(pk, branches, proofs, _tagged_string("bproof0", prefix))


def _overall_blank_branches(
    ct0: Ciphertext, ct_sigma: Ciphertext, values: Sequence[int]
) -> list[Branch]:
    return [_shifted(ct0, 1)] + [_shifted(ct_sigma, m) for m in values]


def prove_overall_blank(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    prefix: str,
    ct0: Ciphertext,
    r0: mpz,
    ct_sigma: Ciphertext,
    r_sigma: mpz,
    index: int,
    values: Sequence[int],
    rng: RandomSource,
) -> tuple[Proof, ...]:
    """``overall_proof`` with blank allowed (spec 4.13): ``m0 = 1 ∨ mΣ ∈ values``.

    Returns ``(π0, π1, ..., πk)`` for ``values = [min..max]`` (k = len(values)). ``index``
    names the true branch: 0 for a blank vote (ct0 encrypts 1, witness r0), or j >= 1 when
    mΣ = ``values[j - 1]`` (witness r_sigma). Hashed string: ``bproof1|S|A0,B0,...,Ak,Bk``.
    """
    branches = _overall_blank_branches(ct0, ct_sigma, values)
    r = r0 if index == 0 else r_sigma
    return or_prove(pk, branches, index, r, _tagged_string("bproof1", prefix), rng)


def check_overall_blank(  # noqa: PLR0917 (positional order follows the spec)
    pk: PublicKey,
    prefix: str,
    ct0: Ciphertext,
    ct_sigma: Ciphertext,
    proofs: Sequence[Proof],
    values: Sequence[int],
) -> bool:
    """Verify a proof made by :func:`prove_overall_blank` (``len(values) + 1`` proofs)."""
    branches = _overall_blank_branches(ct0, ct_sigma, values)
    return or_check(pk, branches, proofs, _tagged_string("bproof1", prefix))


# ---------------------------------------------------------------------- decryption (4.18)


def _decrypt_string(fingerprint: str, X: mpz, A: mpz, B: mpz) -> str:
    return f"decrypt|{fingerprint}|{X}|{A},{B}"


def prove_decryption(
    group: Group, x: mpz, fingerprint: str, alpha: mpz, rng: RandomSource
) -> tuple[mpz, Proof]:
    """The decryption factor ``alpha^x`` and its proof (``decrypt|φ|X|A,B``, spec 4.18)."""
    X = group.powg(x)
    factor = group.pow(alpha, x)
    w = random_zq(rng, group.q)
    A, B = group.powg(w), group.pow(alpha, w)
    c = hash_to_zq(_decrypt_string(fingerprint, X, A, B), group.q)
    return factor, Proof(challenge=c, response=(w - x * c) % group.q)


def check_decryption(  # noqa: PLR0917 (positional order follows the spec)
    group: Group, X: mpz, fingerprint: str, alpha: mpz, factor: mpz, proof: Proof
) -> bool:
    """True when ``factor = alpha^x`` for the x with ``X = g^x``, as ``proof`` shows."""
    if not _in_zq(group, proof):
        return False
    A = group.mul(group.powg(proof.response), group.pow(X, proof.challenge))
    B = group.mul(group.pow(alpha, proof.response), group.pow(factor, proof.challenge))
    return hash_to_zq(_decrypt_string(fingerprint, X, A, B), group.q) == proof.challenge


# ---------------------------------------------------------------------- raweg (4.11.2)


def _raweg_string(pk: PublicKey, prefix: str, ct: Ciphertext) -> Callable[[str], str]:
    head = f"raweg|{prefix}|{pk.y},{ct.alpha},{ct.beta}|"
    return lambda a: head + a


def prove_raweg(pk: PublicKey, prefix: str, ct: Ciphertext, r: mpz, rng: RandomSource) -> Proof:
    """Proof of knowledge of r with ``alpha = g^r`` (``raweg|S|y,α,β|A``)."""
    return schnorr_prove(pk.group, r, _raweg_string(pk, prefix, ct), rng)


def check_raweg(pk: PublicKey, prefix: str, ct: Ciphertext, proof: Proof) -> bool:
    """Verify a proof made by :func:`prove_raweg`."""
    return schnorr_check(pk.group, ct.alpha, proof, _raweg_string(pk, prefix, ct))
