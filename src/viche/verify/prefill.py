"""Precompute, together, the powers a ballot check will ask for.

Checking one ballot spends its time on exponentiations of *variable* bases: the membership
test ``x^q`` of every ciphertext component and the ``a^c``, ``b^c`` of every proof branch.
The same base comes back several times: α of a choice is raised to q (membership), to c0
and c1 (its 0/1 proof) and, for the blank flag, to the challenges of the blank and overall
proofs. :func:`ballot_powers` lists those requests from the parsed ballot, computes all the
exponents of one base with :func:`~viche.crypto.fastexp.pow_many_batch` (one chain of
squarings per base instead of one per exponent; every base in one call) and returns them
keyed ``(base, exponent)``, together with the fixed-base powers ``g^s`` and ``y^s`` of every
response s (:func:`~viche.crypto.fastexp.pow_fixed_many`, one call per table).
:func:`check_ballot_fast` runs the unchanged :func:`~viche.protocol.ballot.check_ballot`
with, once the ballot is parsed, those powers in
:func:`~viche.crypto.fastexp.precomputed_powers`, so that ``Group.pow``, ``Group.powg``,
``PublicKey.pow`` and ``Group.is_element`` find the values ready: the verifier
(:mod:`viche.verify.ballots`) and the voting server
(:func:`viche.service.cast.cast_ballot`) check ballots this way.

A shifted branch ``b / g^m`` (``b · g^(-m mod q)``, as the check computes it) raised to c is
derived as ``b^c · g^(-m c mod q)``, with the fixed-base table of g. Anything not planned here
(a request this planner did not foresee) is simply computed on demand: the planner can only
make a check faster, never change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from gmpy2 import mpz

from viche.crypto.answers import HAnswer
from viche.crypto.fastexp import pow_fixed_many, pow_many_batch, precomputed_powers
from viche.crypto.group import Group
from viche.crypto.schnorr import Proof
from viche.errors import NOWHERE, Location
from viche.protocol.ballot import Ballot, CheckedBallot, check_ballot
from viche.protocol.election import Election, HomomorphicQuestion, PublicCredentials

Powers = dict[tuple[mpz, mpz | int], mpz]


class _Plan:
    def __init__(self, group: Group, y: mpz) -> None:
        self.group = group
        self.y = y
        self.exps: dict[mpz, list[mpz]] = {}
        self.shifted: list[tuple[mpz, int, mpz]] = []
        #: exponents of the fixed bases g and y (the responses: g^s, y^s)
        self.g_exps: list[mpz] = []
        self.y_exps: list[mpz] = []

    def want(self, base: mpz, exponent: mpz) -> None:
        if 0 <= exponent < self.group.q:
            self.exps.setdefault(base, []).append(exponent)

    def member(self, x: mpz) -> None:
        if not self.group.safe_prime and 0 < x < self.group.p:
            self.exps.setdefault(x, []).append(self.group.q)

    def response(self, proof: Proof, y: bool) -> None:
        """``g^s`` (and ``y^s`` when ``y``) of the response s of ``proof``."""
        s = proof.response
        if 0 <= s < self.group.q:
            self.g_exps.append(s)
            if y:
                self.y_exps.append(s)

    def branch(self, a: mpz, b: mpz, m: int, proof: Proof) -> None:
        """The branch ``(a, b / g^m)`` checked with ``proof``."""
        c = proof.challenge
        if not 0 <= c < self.group.q:
            return
        self.want(a, c)
        self.want(b, c)
        self.response(proof, y=True)
        if m:
            self.shifted.append((b, m, c))

    def compute(self) -> Powers:
        group = self.group
        p, q = group.p, group.q
        out: Powers = {}
        requests = [(base, list(dict.fromkeys(exps))) for base, exps in self.exps.items()]
        for (base, distinct), values in zip(requests, pow_many_batch(requests, p), strict=True):
            for e, v in zip(distinct, values, strict=True):
                out[(base, e)] = v
        # the fixed bases through their tables, in one call each: g^s, y^s of the responses
        # and the g^(-m c) of the shifted branches
        bits = q.bit_length()
        g_exps = list(
            dict.fromkeys(
                [
                    *self.g_exps,
                    *((-m * c) % q for _, m, c in self.shifted),
                    *(-m % q for _, m, _ in self.shifted),  # g^-m of the shift itself
                ]
            )
        )
        g_pows = dict(zip(g_exps, pow_fixed_many(group.g, g_exps, p, bits), strict=True))
        y_exps = list(dict.fromkeys(self.y_exps))
        for e, v in zip(y_exps, pow_fixed_many(self.y, y_exps, p, bits), strict=True):
            out[(self.y, e)] = v
        for e, v in g_pows.items():
            out[(group.g, e)] = v
        for b, m, c in self.shifted:
            bg = b * g_pows[-m % q] % p  # b / g^m, as the check derives it
            out[(bg, c)] = out[(b, c)] * g_pows[(-m * c) % q] % p
        return out


def _prod(group: Group, values: Sequence[mpz]) -> mpz:
    return group.prod(list(values))


def ballot_powers(election: Election, ballot: Ballot) -> Powers:
    """Every power the check of ``ballot`` will need that pays to compute together."""
    group = election.group
    plan = _Plan(group, election.public_key.y)
    plan.member(ballot.credential)
    plan.want(ballot.credential, ballot.signature.proof.challenge)
    plan.response(ballot.signature.proof, y=False)
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
        return precomputed_powers(election.group.p, ballot_powers(election, ballot))

    return check_ballot(election, raw, credentials, where, prepare)
