"""Precompute, together, the powers and proof commitments a ballot check will ask for.

Checking one ballot spends its time on exponentiations of *variable* bases: the membership
test ``x^q`` of every ciphertext component and the ``a^c``, ``b^c`` of every proof branch.
The same base comes back several times: α of a choice is raised to q (membership), to c0
and c1 (its 0/1 proof) and, for the blank flag, to the challenges of the blank and overall
proofs. :func:`ballot_powers` lists those requests from the parsed ballot, with the
fixed-base powers ``g^s`` and ``y^s`` of every response s, and asks the engine
(:func:`~viche.crypto.fastexp.pow_products`) for what the check reads: the memberships
``x^q`` and the decimal text of every commitment the proofs re-derive and hash,
``g^s · a^c`` and ``y^s · (b / g^m)^c`` (a branch stating that ``(a, b)`` encrypts m; the
power of ``b / g^m`` being ``b^c · g^(-m c mod q)``). The C engine computes all the powers
in one call (one chain of squarings per base, three products at a time), multiplies them
into the commitments in Montgomery form and converts only those, the commitments straight
to their digits. :func:`check_ballot_fast` runs the unchanged
:func:`~viche.protocol.ballot.check_ballot` with, once the ballot is parsed, those values in
:func:`~viche.crypto.fastexp.precomputed_powers`, so that ``Group.is_element`` and the
commitments of :mod:`viche.crypto.proofs` and
:mod:`viche.crypto.schnorr` find them ready: the verifier (:mod:`viche.verify.ballots`) and
the voting server (:func:`viche.service.cast.cast_ballot`) check ballots this way.

Anything not planned here (a request this planner did not foresee) is simply computed on
demand: the planner can only make a check faster, never change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from itertools import accumulate
from typing import NamedTuple

from gmpy2 import mpz

from viche.crypto.answers import HAnswer
from viche.crypto.fastexp import pow_products, precomputed_powers
from viche.crypto.group import Group
from viche.crypto.schnorr import Proof
from viche.errors import NOWHERE, Location
from viche.protocol.ballot import Ballot, CheckedBallot, check_ballot
from viche.protocol.election import Election, HomomorphicQuestion, PublicCredentials

Powers = dict[tuple[mpz, mpz | int], mpz]


class Prefill(NamedTuple):
    """What a ballot's check reads: single powers keyed ``(base, exponent)`` and the
    decimal texts of the commitments ``f^s · (b / g^m)^c`` keyed ``(f, s, b, c, m)``."""

    powers: Powers
    products: dict[tuple[mpz, mpz, mpz, mpz, int], str]


class _Plan:
    """The requests of one ballot's check, each power numbered as the engine lays them out
    (the variable bases' powers base after base, then those of g, then those of y)."""

    def __init__(self, group: Group, y: mpz) -> None:
        self.group = group
        self.y = y
        #: the variable bases (their slots, in the order of their first request) and the
        #: exponents asked of each
        self.slots: dict[mpz, int] = {}
        self.exps: list[list[mpz]] = []
        #: the memberships x^q asked for: (x, slot of x, place of q in its exponents)
        self.members: list[tuple[mpz, int, int]] = []
        #: exponents of the fixed bases g and y (the responses: g^s, y^s; and g^(-mc))
        self.g_exps: list[mpz] = []
        self.y_exps: list[mpz] = []
        #: the commitments f^s · (base / g^m)^c (f = y or g), with the places of their
        #: factors: (y, s, base, c, m, slot, place of c, place of s, place of -mc or -1)
        self.commitments: list[tuple[bool, mpz, mpz, mpz, int, int, int, int, int]] = []

    def want(self, base: mpz, exponent: mpz) -> tuple[int, int]:
        """Ask for ``base^exponent``: its base's slot and its place in that base's list."""
        slot = self.slots.get(base)
        if slot is None:
            self.slots[base] = len(self.exps)
            self.exps.append([exponent])
            return len(self.exps) - 1, 0
        exps = self.exps[slot]
        exps.append(exponent)
        return slot, len(exps) - 1

    def member(self, x: mpz) -> None:
        if not self.group.safe_prime and 0 < x < self.group.p:
            self.members.append((x, *self.want(x, self.group.q)))

    def commitment(self, proof: Proof, base: mpz, m: int, y: bool) -> None:
        """``g^s · base^c`` (``y^s · (base / g^m)^c`` when ``y``) of ``proof = (c, s)``."""
        q = self.group.q
        c, s = proof.challenge, proof.response
        if not (0 <= c < q and 0 <= s < q):
            return  # the check refuses the proof before it computes a commitment
        slot, place = self.want(base, c)
        fixed = self.y_exps if y else self.g_exps
        fixed.append(s)
        at_s = len(fixed) - 1
        shift = -1
        if m:  # (b / g^m)^c = b^c · g^(-mc)
            shift = len(self.g_exps)
            self.g_exps.append((-m * c) % q)
        self.commitments.append((y, s, base, c, m, slot, place, at_s, shift))

    def branch(self, a: mpz, b: mpz, m: int, proof: Proof) -> None:
        """The branch ``(a, b, m)`` (``(a, b / g^m)``) checked with ``proof``."""
        self.commitment(proof, a, 0, y=False)
        self.commitment(proof, b, m, y=True)

    def compute(self) -> Prefill:
        group = self.group
        p, q, g = group.p, group.q, group.g
        offsets = list(accumulate((len(exps) for exps in self.exps), initial=0))
        g0 = offsets[-1]
        y0 = g0 + len(self.g_exps)
        singles = [(offsets[slot] + place,) for _, slot, place in self.members]
        products: list[tuple[int, ...]] = []
        for y, _, _, _, _, slot, place, fixed, shift in self.commitments:
            power = offsets[slot] + place
            if not y:
                products.append((g0 + fixed, power))
            elif shift < 0:
                products.append((y0 + fixed, power))
            else:
                products.append((y0 + fixed, power, g0 + shift))
        values, texts = pow_products(
            list(zip(self.slots, self.exps, strict=True)),
            [(g, self.g_exps), (self.y, self.y_exps)],
            singles,
            p,
            q.bit_length(),
            texts=products,
        )
        powers: Powers = {(x, q): v for (x, _, _), v in zip(self.members, values, strict=True)}
        out = {
            (self.y if is_y else g, s, base, c, m): text
            for (is_y, s, base, c, m, *_), text in zip(self.commitments, texts, strict=True)
        }
        return Prefill(powers, out)


def _prod(group: Group, values: Sequence[mpz]) -> mpz:
    return group.prod(list(values))


def ballot_powers(election: Election, ballot: Ballot) -> Prefill:
    """Every power and commitment the check of ``ballot`` will need that pays to compute
    together."""
    group = election.group
    plan = _Plan(group, election.public_key.y)
    plan.member(ballot.credential)
    plan.commitment(ballot.signature.proof, ballot.credential, 0, y=False)
    if len(ballot.answers) != len(election.questions):
        return plan.compute()
    for answer, question in zip(ballot.answers, election.questions, strict=True):
        if not isinstance(answer, HAnswer) or not isinstance(question, HomomorphicQuestion):
            continue
        cts = answer.choices
        for ct in cts:
            plan.member(ct.alpha)
            plan.member(ct.beta)
        for ct, pair in zip(cts, answer.individual_proofs, strict=False):
            if len(pair) == 2:
                plan.branch(ct.alpha, ct.beta, 0, pair[0])
                plan.branch(ct.alpha, ct.beta, 1, pair[1])
        values = range(question.min, question.max + 1)
        if not question.blank:
            a = _prod(group, [ct.alpha for ct in cts])
            b = _prod(group, [ct.beta for ct in cts])
            for m, proof in zip(values, answer.overall_proof, strict=False):
                plan.branch(a, b, m, proof)
            continue
        if not cts:
            continue
        a0, b0 = cts[0].alpha, cts[0].beta
        a_s = _prod(group, [ct.alpha for ct in cts[1:]])
        b_s = _prod(group, [ct.beta for ct in cts[1:]])
        if answer.blank_proof is not None and len(answer.blank_proof) == 2:
            plan.branch(a0, b0, 0, answer.blank_proof[0])
            plan.branch(a_s, b_s, 0, answer.blank_proof[1])
        overall = answer.overall_proof
        if overall:
            plan.branch(a0, b0, 1, overall[0])
            for m, proof in zip(values, overall[1:], strict=False):
                plan.branch(a_s, b_s, m, proof)
    return plan.compute()


def check_ballot_fast(
    election: Election, raw: bytes, credentials: PublicCredentials, where: Location = NOWHERE
) -> CheckedBallot:
    """:func:`~viche.protocol.ballot.check_ballot` (every check, the same verdict) with the
    powers it needs computed together once the ballot parses."""

    def prepare(ballot: Ballot) -> AbstractContextManager[None]:
        powers, products = ballot_powers(election, ballot)
        return precomputed_powers(election.group.p, powers, products)

    return check_ballot(election, raw, credentials, where, prepare)
