"""Verifiable re-encryption shuffles of ElGamal ciphertexts (specification section 6).

The mixnet of Belenios is the one of CHVote 1.3.2: each shuffler re-encrypts and permutes
the ciphertexts of one non-homomorphic question and proves it with a Wikström-Terelius
proof (commitment to the permutation, chain of commitments to the challenges, and a
Fiat-Shamir proof of the relations between them).

Functions follow the tables of the specification:

* :func:`gen_permutation` (table 2), :func:`gen_reencryption` (table 3) and
  :func:`gen_shuffle` (table 1);
* :func:`gen_shuffle_proof` (table 4) and :func:`check_shuffle_proof` (table 5), with
  :func:`shuffle_and_prove` doing both steps of spec 4.17 for one list;
* :func:`get_generator` (table 8, ``SHA256("ggen|i")^((p-1)/q)``), :func:`get_generators`
  (table 7) and :func:`secondary_generator` (table 6, i = -1);
* :func:`encode_ciphertexts` and :func:`encode_elements` (table 10, ``JeK`` and ``JcK``:
  base-10 numbers each followed by a comma);
* :func:`nizkp_challenges` (table 11) and :func:`nizkp_challenge` (table 13), with the
  prefixes ``shuffle-challenges|φ|`` and ``shuffle-challenge|φ|``.

Indices are 0-based in the code (the specification counts from 1). A permutation ψ is a
tuple ``(j_0, ..., j_{N-1})`` and the shuffled list is ``e'_i = ReEnc(e_{j_i})``.

The randomness of a shuffle (:class:`ShuffleWitness`) is secret: it links shuffled
ciphertexts to the input ones, so it is kept out of ``repr``.

:func:`check_shuffle_proof` raises :class:`~viche.errors.GroupMembershipError` for a value
outside the group or Z_q, :class:`~viche.errors.ProofError` for a wrong length or an
equation that does not hold; ``where`` ends with the component at fault (``t1``, ``t4,2``,
``t̂[3]``, ``ĉ[2]``, ``challenge``, ...). The input ciphertexts must already be checked
group members.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext, PublicKey
from viche.crypto.fastexp import multi_pow
from viche.crypto.group import Group
from viche.crypto.hashing import hash_to_zq
from viche.crypto.rng import RandomSource, random_zq
from viche.errors import Location, ProofError, ProtocolError

__all__ = [
    "ShuffleProof",
    "ShuffleWitness",
    "check_shuffle_proof",
    "encode_ciphertexts",
    "encode_elements",
    "gen_permutation",
    "gen_reencryption",
    "gen_shuffle",
    "gen_shuffle_proof",
    "get_generator",
    "get_generators",
    "nizkp_challenge",
    "nizkp_challenges",
    "secondary_generator",
    "shuffle_and_prove",
]


@dataclass(frozen=True)
class ShuffleProof:
    """π = (t, s, c, ĉ) of table 4.

    ``t = (t1, t2, t3)``, ``t4 = (t4,1, t4,2)``, ``t_hat = [t̂_1..t̂_N]``;
    ``s = (s1, s2, s3, s4)``, ``s_hat = [ŝ_1..ŝ_N]``, ``s_prime = [s'_1..s'_N]``;
    ``commitments = [c_1..c_N]`` (permutation commitment) and ``chained = [ĉ_1..ĉ_N]``.
    """

    t: tuple[mpz, mpz, mpz]
    t4: tuple[mpz, mpz]
    t_hat: tuple[mpz, ...]
    s: tuple[mpz, mpz, mpz, mpz]
    s_hat: tuple[mpz, ...]
    s_prime: tuple[mpz, ...]
    commitments: tuple[mpz, ...]
    chained: tuple[mpz, ...]


@dataclass(frozen=True)
class ShuffleWitness:
    """The secret output of :func:`gen_shuffle`: permutation ψ and re-encryption
    randomness r' (``reencryption[i]`` re-encrypted input ``i``)."""

    permutation: tuple[int, ...] = field(repr=False)
    reencryption: tuple[mpz, ...] = field(repr=False)

    def __repr__(self) -> str:
        return f"ShuffleWitness(<{len(self.permutation)} secret items>)"


# ---------------------------------------------------------------------- generators


@lru_cache(maxsize=4096)
def get_generator(group: Group, i: int) -> mpz:
    """Table 8: ``h = SHA256("ggen|i")^((p-1)/q) mod p`` (i in base 10, may be -1).

    Raises :class:`ProtocolError` in the (negligible) case h ∈ {0, 1, g}. Distinct i giving
    equal h would need a SHA-256 collision up to sign, so the state X of the table is not kept.
    """
    x = mpz(int.from_bytes(hashlib.sha256(f"ggen|{i}".encode("ascii")).digest(), "big"))
    h = group.pow(x, (group.p - 1) // group.q)
    if h in (0, 1, group.g):
        raise ProtocolError(
            f"independent generator {i} is degenerate", where=Location(path=(f"ggen|{i}",))
        )
    return h


def secondary_generator(group: Group) -> mpz:
    """Table 6: ``GetGenerator(-1)``."""
    return get_generator(group, -1)


def get_generators(group: Group, n: int) -> tuple[mpz, ...]:
    """Table 7: ``[GetGenerator(0), ..., GetGenerator(n-1)]``."""
    return tuple(get_generator(group, i) for i in range(n))


# ---------------------------------------------------------------------- hashing


def encode_ciphertexts(cts: Sequence[Ciphertext]) -> str:
    """Table 10, ``JeK``: ``α1,β1,α2,β2,...,αN,βN,`` (base 10, trailing comma)."""
    return "".join(f"{c.alpha},{c.beta}," for c in cts)


def encode_elements(xs: Sequence[mpz]) -> str:
    """Table 10, ``JcK``: ``c1,c2,...,cN,`` (base 10, trailing comma)."""
    return "".join(f"{x}," for x in xs)


def nizkp_challenges(group: Group, n: int, text: str) -> tuple[mpz, ...]:
    """Table 11: ``u_i = SHA256(H ‖ T_i) mod q`` with ``H = hex SHA256(S)`` and
    ``T_i = hex SHA256(str(i))`` for i = 0..n-1."""
    big_h = hashlib.sha256(text.encode("utf-8")).hexdigest()
    out: list[mpz] = []
    for i in range(n):
        t = hashlib.sha256(str(i).encode("ascii")).hexdigest()
        out.append(hash_to_zq(big_h + t, group.q))
    return tuple(out)


def nizkp_challenge(group: Group, text: str) -> mpz:
    """Table 13: ``SHA256(S) mod q``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()  # φ is ASCII in practice
    return mpz(int.from_bytes(digest, "big")) % group.q


def _str_c(e: Sequence[Ciphertext], e2: Sequence[Ciphertext], commitments: Sequence[mpz]) -> str:
    return encode_ciphertexts(e) + encode_ciphertexts(e2) + encode_elements(commitments)


def _challenges(group: Group, phi: str, str_c: str, n: int) -> tuple[mpz, ...]:
    return nizkp_challenges(group, n, f"shuffle-challenges|{phi}|{str_c}")


def _challenge(
    pk: PublicKey,
    phi: str,
    str_c: str,
    *,
    t: Sequence[mpz],
    t_hat: Sequence[mpz],
    chained: Sequence[mpz],
) -> mpz:
    """``c = H(shuffle-challenge|φ|strt strc JĉK pk)`` with ``strt = J[t1,t2,t3,t4,1,t4,2]KJt̂K``."""
    str_t = encode_elements(t) + encode_elements(t_hat)
    str_y = str_c + encode_elements(chained) + str(pk.y)
    return nizkp_challenge(pk.group, f"shuffle-challenge|{phi}|{str_t}{str_y}")


# ---------------------------------------------------------------------- shuffle


def gen_permutation(n: int, rng: RandomSource) -> tuple[int, ...]:
    """Table 2: a uniform permutation of ``0..n-1`` (Fisher-Yates, as in the table)."""
    pool = list(range(n))
    out: list[int] = []
    for i in range(n):
        k = i + rng.randbelow(n - i)
        out.append(pool[k])
        pool[k] = pool[i]
    return tuple(out)


def gen_reencryption(pk: PublicKey, ct: Ciphertext, rng: RandomSource) -> tuple[Ciphertext, mpz]:
    """Table 3: ``(α g^r', β y^r')`` with a fresh r'."""
    group = pk.group
    r = random_zq(rng, group.q)
    return Ciphertext(group.mul(ct.alpha, group.powg(r)), group.mul(ct.beta, pk.pow(r))), r


def gen_shuffle(
    pk: PublicKey, cts: Sequence[Ciphertext], rng: RandomSource
) -> tuple[tuple[Ciphertext, ...], ShuffleWitness]:
    """Table 1: re-encrypt every ciphertext, then permute: ``e'_i = ReEnc(e_{ψ(i)})``."""
    perm = gen_permutation(len(cts), rng)
    pairs = [gen_reencryption(pk, ct, rng) for ct in cts]
    shuffled = tuple(pairs[j][0] for j in perm)
    return shuffled, ShuffleWitness(perm, tuple(r for _, r in pairs))


# ---------------------------------------------------------------------- proof


def _neg(q: mpz, e: mpz) -> mpz:
    """The exponent of ``x^-e`` for x in the order-q subgroup."""
    return (q - e) % q


def gen_shuffle_proof(
    pk: PublicKey,
    phi: str,
    cts: Sequence[Ciphertext],
    shuffled: Sequence[Ciphertext],
    *,
    witness: ShuffleWitness,
    rng: RandomSource,
) -> ShuffleProof:
    """Table 4: the proof that ``shuffled`` is a re-encryption and permutation of ``cts``
    under ``witness``, bound to the election fingerprint ``phi``."""
    group = pk.group
    p, q = group.p, group.q
    n = len(cts)
    perm, r_enc = witness.permutation, witness.reencryption
    if len(shuffled) != n or len(perm) != n or len(r_enc) != n or sorted(perm) != list(range(n)):
        raise ProtocolError("shuffle witness does not match the ciphertexts", where=_SHUFFLE)
    h0 = secondary_generator(group)
    hs = get_generators(group, n)
    # GenPermutationCommitment (table 9): c_{ψ(i)} = g^{r_{ψ(i)}} h_i
    r_com = [mpz(0)] * n
    com = [mpz(0)] * n
    for i, j in enumerate(perm):
        r_com[j] = random_zq(rng, q)
        com[j] = group.powg(r_com[j]) * hs[i] % p
    str_c = _str_c(cts, shuffled, com)
    u = _challenges(group, phi, str_c, n)
    u2 = [u[j] for j in perm]
    # GenCommitmentChain (table 12) from ĉ_0 = h
    r_hat: list[mpz] = []
    chained: list[mpz] = []
    prev = h0
    for i in range(n):
        r_hat.append(random_zq(rng, q))
        prev = group.powg(r_hat[i]) * group.pow(prev, u2[i]) % p
        chained.append(prev)
    w = [random_zq(rng, q) for _ in range(4)]
    w_hat = [random_zq(rng, q) for _ in range(n)]
    w_prime = [random_zq(rng, q) for _ in range(n)]
    t1 = group.powg(w[0])
    t2 = group.powg(w[1])
    t3 = group.powg(w[2]) * multi_pow(list(zip(hs, w_prime, strict=True)), p) % p
    t41 = (
        pk.pow(_neg(q, w[3]))
        * multi_pow([(c.beta, wp) for c, wp in zip(shuffled, w_prime, strict=True)], p)
        % p
    )
    t42 = (
        group.powg(_neg(q, w[3]))
        * multi_pow([(c.alpha, wp) for c, wp in zip(shuffled, w_prime, strict=True)], p)
        % p
    )
    prevs = [h0, *chained[:-1]] if n else []
    t_hat = tuple(group.powg(w_hat[i]) * group.pow(prevs[i], w_prime[i]) % p for i in range(n))
    t = (t1, t2, t3)
    t4 = (t41, t42)
    c = _challenge(pk, phi, str_c, t=[*t, *t4], t_hat=t_hat, chained=chained)
    r_bar = sum(r_com, mpz(0)) % q
    s1 = (w[0] + c * r_bar) % q
    v = [mpz(1)] * n
    for i in range(n - 2, -1, -1):
        v[i] = u2[i + 1] * v[i + 1] % q
    r_hat_sum = sum((r_hat[i] * v[i] for i in range(n)), mpz(0)) % q
    s2 = (w[1] + c * r_hat_sum) % q
    r_tilde = sum((r_com[i] * u[i] for i in range(n)), mpz(0)) % q
    s3 = (w[2] + c * r_tilde) % q
    r_prime = sum((r_enc[i] * u[i] for i in range(n)), mpz(0)) % q
    s4 = (w[3] + c * r_prime) % q
    s_hat = tuple((w_hat[i] + c * r_hat[i]) % q for i in range(n))
    s_prime = tuple((w_prime[i] + c * u2[i]) % q for i in range(n))
    return ShuffleProof(
        t=t,
        t4=t4,
        t_hat=t_hat,
        s=(s1, s2, s3, s4),
        s_hat=s_hat,
        s_prime=s_prime,
        commitments=tuple(com),
        chained=tuple(chained),
    )


def shuffle_and_prove(
    pk: PublicKey, phi: str, cts: Sequence[Ciphertext], rng: RandomSource
) -> tuple[tuple[Ciphertext, ...], ShuffleProof]:
    """GenShuffle then GenShuffleProof: the shuffled list and its proof (spec 4.17)."""
    shuffled, witness = gen_shuffle(pk, cts, rng)
    return shuffled, gen_shuffle_proof(pk, phi, cts, shuffled, witness=witness, rng=rng)


#: The default location of a shuffle proof.
_SHUFFLE = Location(path=("shuffle",))


def _check_members(
    group: Group, shuffled: Sequence[Ciphertext], proof: ShuffleProof, n: int, where: Location
) -> None:
    lengths = {
        "t̂": len(proof.t_hat),
        "ŝ": len(proof.s_hat),
        "s'": len(proof.s_prime),
        "c": len(proof.commitments),
        "ĉ": len(proof.chained),
    }
    for name, got in lengths.items():
        if got != n:
            raise ProofError(f"{got} values for {n} ciphertexts", where=where.sub(name))
    for i, ct in enumerate(shuffled):
        group.check_element(ct.alpha, where.sub(f"ciphertext {i + 1}", "alpha"))
        group.check_element(ct.beta, where.sub(f"ciphertext {i + 1}", "beta"))
    elements = [
        ("t1", proof.t[0]),
        ("t2", proof.t[1]),
        ("t3", proof.t[2]),
        ("t4,1", proof.t4[0]),
        ("t4,2", proof.t4[1]),
    ]
    elements += [(f"t̂[{i + 1}]", x) for i, x in enumerate(proof.t_hat)]
    elements += [(f"c[{i + 1}]", x) for i, x in enumerate(proof.commitments)]
    elements += [(f"ĉ[{i + 1}]", x) for i, x in enumerate(proof.chained)]
    for name, x in elements:
        group.check_element(x, where.sub(name))
    exponents = [(f"s{k + 1}", x) for k, x in enumerate(proof.s)]
    exponents += [(f"ŝ[{i + 1}]", x) for i, x in enumerate(proof.s_hat)]
    exponents += [(f"s'[{i + 1}]", x) for i, x in enumerate(proof.s_prime)]
    for name, x in exponents:
        group.check_exponent(x, where.sub(name))


def check_shuffle_proof(
    pk: PublicKey,
    phi: str,
    cts: Sequence[Ciphertext],
    shuffled: Sequence[Ciphertext],
    proof: ShuffleProof,
    *,
    where: Location = _SHUFFLE,
) -> None:
    """Table 5: raise unless ``proof`` shows that ``shuffled`` re-encrypts a permutation of
    ``cts`` (which must already be checked group members).

    Errors name the failing component: a length or membership problem first; then every
    equation ``t1, t2, t3, t4,1, t4,2, t̂[i]`` is recomputed. An altered response (s1..s4,
    ŝ_i, s'_i) breaks only its own equations, named in ``where``; anything that is hashed
    (t, c, ĉ, the ciphertexts, the key, φ) changes the challenge and breaks all of them,
    reported as ``… / challenge``.
    """
    group = pk.group
    p, q = group.p, group.q
    n = len(cts)
    if len(shuffled) != n:
        raise ProofError(f"{len(shuffled)} shuffled ciphertexts for {n} inputs", where=where)
    _check_members(group, shuffled, proof, n, where)
    h0 = secondary_generator(group)
    hs = get_generators(group, n)
    str_c = _str_c(cts, shuffled, proof.commitments)
    u = _challenges(group, phi, str_c, n)
    c = _challenge(
        pk, phi, str_c, t=[*proof.t, *proof.t4], t_hat=proof.t_hat, chained=proof.chained
    )
    neg_c = _neg(q, c)
    s1, s2, s3, s4 = proof.s
    c_bar = group.div(group.prod(list(proof.commitments)), group.prod(list(hs)))
    u_prod = mpz(1)
    for x in u:
        u_prod = u_prod * x % q
    last = proof.chained[-1] if n else h0
    c_hat = group.div(last, group.pow(h0, u_prod))
    c_tilde = multi_pow(list(zip(proof.commitments, u, strict=True)), p)
    alpha_u = multi_pow([(ct.alpha, x) for ct, x in zip(cts, u, strict=True)], p)
    beta_u = multi_pow([(ct.beta, x) for ct, x in zip(cts, u, strict=True)], p)
    expected: list[tuple[str, mpz, mpz]] = [
        ("t1", proof.t[0], group.pow(c_bar, neg_c) * group.powg(s1) % p),
        ("t2", proof.t[1], group.pow(c_hat, neg_c) * group.powg(s2) % p),
        (
            "t3",
            proof.t[2],
            group.pow(c_tilde, neg_c)
            * group.powg(s3)
            * multi_pow(list(zip(hs, proof.s_prime, strict=True)), p)
            % p,
        ),
        (
            "t4,1",
            proof.t4[0],
            group.pow(beta_u, neg_c)
            * pk.pow(_neg(q, s4))
            * multi_pow([(ct.beta, s) for ct, s in zip(shuffled, proof.s_prime, strict=True)], p)
            % p,
        ),
        (
            "t4,2",
            proof.t4[1],
            group.pow(alpha_u, neg_c)
            * group.powg(_neg(q, s4))
            * multi_pow([(ct.alpha, s) for ct, s in zip(shuffled, proof.s_prime, strict=True)], p)
            % p,
        ),
    ]
    prev = h0
    for i in range(n):
        want = (
            multi_pow([(proof.chained[i], neg_c), (prev, proof.s_prime[i])], p)
            * group.powg(proof.s_hat[i])
            % p
        )
        expected.append((f"t̂[{i + 1}]", proof.t_hat[i], want))
        prev = proof.chained[i]
    failed = [name for name, got, want in expected if got != want]
    if not failed:
        return
    if len(failed) == len(expected):
        raise ProofError(
            "no equation of the shuffle proof holds: the hashed challenge differs (altered "
            "commitments t, c or ĉ, ciphertexts, election key or fingerprint)",
            where=where.sub("challenge"),
        )
    raise ProofError(
        f"shuffle proof equation(s) for {', '.join(failed)} do not hold",
        where=where.sub(failed[0]),
    )
