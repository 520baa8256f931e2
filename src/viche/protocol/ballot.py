"""Ballots (specification 4.14-4.15, FORMAT.md §5): the message, how to make one, and
every check a voting server or a verifier runs on one.

:func:`check_ballot` is a pure function of the ballot bytes, the election and the public
credentials, so a verifier can run it in worker processes (all its arguments pickle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property, lru_cache
from json.encoder import encode_basestring  # the writer of a str in dumps (non-ASCII kept)
from typing import Protocol

from gmpy2 import mpz

from viche.crypto.answers import (
    HAnswer,
    NHAnswer,
    check_h_answer,
    check_nh_answer,
    make_h_answer,
    make_nh_answer,
)
from viche.crypto.credentials import credential_secret, public_credential
from viche.crypto.elgamal import PublicKey
from viche.crypto.hashing import b64_of_sha256_hex, b64_sha256, sha256_hex
from viche.crypto.rng import RandomSource
from viche.crypto.schnorr import Proof, check_ballot_signature, sign_ballot
from viche.errors import (
    NOWHERE,
    BallotShapeError,
    Location,
    ProofError,
    WrongElectionError,
    located,
)
from viche.protocol.codec import (
    JsonObject,
    expect_list,
    expect_object,
    get_number,
    get_str,
    loads,
    require_written,
    sub,
    to_bytes,
)
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)
from viche.protocol.messages import (
    Answer,
    answer_from_json,
    answer_text,
    answer_to_json,
    proof_from_json,
    proof_text,
    proof_to_json,
)

#: The location of a ballot being made or parsed, when the caller names none.
_BALLOT = Location(path=("ballot",))


@dataclass(frozen=True)
class Signature:
    """``{"hash","proof"}``: hash of the unsigned ballot and a Schnorr proof with the
    credential secret (spec 4.14)."""

    hash: str
    proof: Proof

    def to_json(self) -> JsonObject:
        return {"hash": self.hash, "proof": proof_to_json(self.proof)}

    def text(self) -> str:
        """``dumps(self.to_json())``."""
        return (
            '{"hash":' + encode_basestring(self.hash) + ',"proof":' + proof_text(self.proof) + "}"
        )

    @classmethod
    def from_json(cls, value: object, where: Location) -> Signature:
        obj = expect_object(value, where, ("hash", "proof"))
        return cls(get_str(obj, "hash", where), proof_from_json(obj["proof"], sub(where, "proof")))


@dataclass(frozen=True)
class Ballot:
    """``{"election_uuid","election_hash","credential","answers","signature"}``."""

    election_uuid: str
    election_hash: str
    credential: mpz
    answers: tuple[Answer, ...]
    signature: Signature

    @cached_property
    def credential_text(self) -> str:
        """``str(credential)``: the key of the public credential list, in the canonical
        form, the signature hash and the answers' prefix S0 (the digits read, when parsed)."""
        return str(self.credential)

    def unsigned_json(self) -> JsonObject:
        return {
            "election_uuid": self.election_uuid,
            "election_hash": self.election_hash,
            "credential": self.credential_text,
            "answers": [answer_to_json(a) for a in self.answers],
        }

    def to_json(self) -> JsonObject:
        out = self.unsigned_json()
        out["signature"] = self.signature.to_json()
        return out

    def text(self) -> str:
        """``dumps(self.to_json())``, written directly (see :mod:`viche.protocol.messages`):
        a ballot check compares the bytes received with it."""
        return (
            '{"election_uuid":'
            + encode_basestring(self.election_uuid)
            + ',"election_hash":'
            + encode_basestring(self.election_hash)
            + ',"credential":"'
            + self.credential_text
            + '","answers":['
            + ",".join([answer_text(a) for a in self.answers])
            + '],"signature":'
            + self.signature.text()
            + "}"
        )

    @classmethod
    def from_json(cls, value: object, where: Location = _BALLOT) -> Ballot:
        obj = expect_object(
            value,
            where,
            ("election_uuid", "election_hash", "credential", "answers", "signature"),
        )
        awhere = sub(where, "answers")
        answers = tuple(
            answer_from_json(a, sub(awhere, i))
            for i, a in enumerate(expect_list(obj["answers"], awhere))
        )
        ballot = cls(
            election_uuid=get_str(obj, "election_uuid", where),
            election_hash=get_str(obj, "election_hash", where),
            credential=get_number(obj, "credential", where),
            answers=answers,
            signature=Signature.from_json(obj["signature"], sub(where, "signature")),
        )
        vars(ballot)["credential_text"] = obj["credential"]  # canonical: the digits read
        return ballot

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = _BALLOT) -> Ballot:
        """Parse a ballot and insist on the canonical form (the tool does the same)."""
        ballot = cls.from_json(loads(raw, where), where)
        require_written(raw, ballot_bytes(ballot), where, "ballot")
        return ballot


def ballot_bytes(ballot: Ballot) -> bytes:
    """The canonical bytes of a ballot (``to_bytes(ballot.to_json())``): what is stored,
    hashed and sent."""
    return ballot.text().encode("utf-8")


def signature_hash(ballot: Ballot, raw: bytes | None = None) -> str:
    """b64nopad(sha256(ballot without its ``signature`` field)) (spec 4.15).

    ``raw``, the ballot's canonical bytes (:meth:`Ballot.from_bytes` checked them), spares
    writing the ballot again: the signature is its last field, so the unsigned ballot is
    ``raw`` without ``,"signature":{...}``.
    """
    if raw is not None:
        tail = b',"signature":' + ballot.signature.text().encode("utf-8") + b"}"
        if raw.endswith(tail):
            return b64_sha256(raw[: len(raw) - len(tail)] + b"}")
    return b64_sha256(to_bytes(ballot.unsigned_json()))


def smart_ballot_tracker(raw: bytes) -> str:
    """b64nopad(sha256(whole ballot)): the tracking number shown to the voter."""
    return b64_sha256(raw)


def tracker_of_hash(hex_hash: str) -> str:
    """The smart ballot tracker of a ballot whose SHA-256 is ``hex_hash`` (as the record's
    Ballot events name it)."""
    return b64_of_sha256_hex(hex_hash)


def answer_prefix_s0(election: Election, credential: mpz | str) -> str:
    """``S0 = φ|credential`` (spec 4.11; the credential or its decimal text)."""
    return f"{election.fingerprint}|{credential}"


# ---------------------------------------------------------------------- making


def make_ballot(
    election: Election,
    pk: PublicKey,
    private_credential: str,
    plaintexts: Sequence[Sequence[int]],
    rng: RandomSource,
) -> Ballot:
    """Encrypt, prove and sign a vote, as a voter's booth does.

    ``plaintexts`` has one list per question, in belenios-tool's ``--ballot`` convention:
    0/1 per answer for a homomorphic question, with a leading blank flag when blank is
    allowed (``[1,0,...,0]`` is a blank vote); small integers for a non-homomorphic one.
    ``pk`` is the election key (possibly with precomputed tables).
    """
    if pk.y != election.public_key.y or pk.group.name != election.group.name:
        raise WrongElectionError("public key is not the key of this election", where=_BALLOT)
    if len(plaintexts) != len(election.questions):
        raise BallotShapeError(
            f"{len(plaintexts)} plaintext answer(s) for {len(election.questions)} question(s)",
            where=_BALLOT,
        )
    group = election.group
    secret = credential_secret(group, private_credential, election.uuid)  # checks the format
    credential = public_credential(group, secret)
    s0 = answer_prefix_s0(election, credential)
    answers: list[Answer] = []
    for i, (question, plaintext) in enumerate(zip(election.questions, plaintexts, strict=True)):
        if isinstance(question, HomomorphicQuestion):
            answers.append(
                make_h_answer(
                    pk,
                    s0,
                    list(plaintext),
                    n_answers=len(question.answers),
                    min=question.min,
                    max=question.max,
                    blank=question.blank,
                    rng=rng,
                    where=_BALLOT.at(question=i + 1),
                )
            )
        else:
            if len(plaintext) != len(question.answers):
                raise BallotShapeError(
                    f"{len(plaintext)} values for {len(question.answers)} answers",
                    where=_BALLOT.at(question=i + 1),
                )
            try:
                answers.append(make_nh_answer(pk, s0, list(plaintext), rng))
            except BallotShapeError as exc:
                raise BallotShapeError(exc.message, where=_BALLOT.at(question=i + 1)) from None
    unsigned = Ballot(
        election_uuid=election.uuid,
        election_hash=election.fingerprint,
        credential=credential,
        answers=tuple(answers),
        signature=Signature("", Proof(mpz(0), mpz(0))),
    )
    h = signature_hash(unsigned)
    proof = sign_ballot(group, secret, h, rng)
    return Ballot(
        unsigned.election_uuid,
        unsigned.election_hash,
        credential,
        unsigned.answers,
        Signature(h, proof),
    )


# ---------------------------------------------------------------------- checking


@dataclass(frozen=True)
class CheckedBallot:
    """A ballot that passed :func:`check_ballot`, with what the tally and records need."""

    ballot: Ballot
    raw: bytes
    tracker: str  # b64nopad sha256: smart ballot tracker
    hex_hash: str  # sha256 hex: archive member name
    credential: str  # decimal text, the key of the public credential list
    weight: int


class CheckedFacts(Protocol):
    """What binding a checked ballot to its voter and appending it need: a
    :class:`CheckedBallot`, or the verdict a check process of the voting server sends back
    (:class:`viche.web.checkpool.Verdict`: the same facts, without the parsed ballot)."""

    @property
    def raw(self) -> bytes: ...

    @property
    def tracker(self) -> str: ...

    @property
    def hex_hash(self) -> str: ...

    @property
    def credential(self) -> str: ...

    @property
    def weight(self) -> int: ...


def _choice(where: Location, i: int, blank: bool) -> Location:
    """Choice ``i`` (0-based) of an answer, numbered as in :mod:`viche.crypto.answers`:
    ``answer`` 0 is the blank flag."""
    return where.at(answer=i if blank else i + 1)


def _check_members(election: Election, ballot: Ballot, where: Location) -> None:
    group = election.group
    for i, (answer, question) in enumerate(zip(ballot.answers, election.questions, strict=True)):
        awhere = where.at(question=i + 1)
        if isinstance(answer, NHAnswer):
            group.check_element(answer.choices.alpha, awhere.sub("alpha"))
            group.check_element(answer.choices.beta, awhere.sub("beta"))
            continue
        blank = isinstance(question, HomomorphicQuestion) and question.blank
        for j, ct in enumerate(answer.choices):
            cwhere = _choice(awhere, j, blank)
            group.check_element(ct.alpha, cwhere.sub("alpha"))
            group.check_element(ct.beta, cwhere.sub("beta"))


def _check_shape(election: Election, ballot: Ballot, where: Location) -> None:
    if len(ballot.answers) != len(election.questions):
        raise BallotShapeError(
            f"{len(ballot.answers)} answer(s) for {len(election.questions)} question(s)",
            where=where,
        )
    for i, (answer, question) in enumerate(zip(ballot.answers, election.questions, strict=True)):
        awhere = where.at(question=i + 1)
        if isinstance(question, NonHomomorphicQuestion) and not isinstance(answer, NHAnswer):
            raise BallotShapeError(
                "a non-homomorphic question needs a {choices, proof} answer", where=awhere
            )
        if isinstance(question, HomomorphicQuestion):
            if not isinstance(answer, HAnswer):
                raise BallotShapeError(
                    "a homomorphic question needs a {choices, individual_proofs, "
                    "overall_proof} answer",
                    where=awhere,
                )
            if len(answer.choices) != question.n_choices:
                raise BallotShapeError(
                    f"{len(answer.choices)} choices, expected {question.n_choices}",
                    where=awhere.sub("choices"),
                )


@lru_cache(maxsize=8)
def _digits(n: mpz) -> int:
    return len(str(n))


def max_ballot_size(election: Election) -> int:
    """An upper bound on the canonical size of any well-formed ballot of ``election``: a
    longer one is refused before it is parsed (a ballot with a million answers costs
    nothing). Generous: every number counted at the length of p (or q) plus its key."""
    group = election.group
    element = _digits(group.p) + 16
    exponent = _digits(group.q) + 16
    proof = 2 * exponent + 8
    ciphertext = 2 * element + 8
    size = 1024 + len(election.uuid) + len(election.fingerprint) + element + proof
    for q in election.questions:
        if isinstance(q, HomomorphicQuestion):
            n_overall = q.max - q.min + 1 + (1 if q.blank else 0)
            size += 128 + q.n_choices * (ciphertext + 2 * proof + 8) + (n_overall + 2) * proof
        else:
            size += 128 + ciphertext + proof
    return size


#: Given the parsed ballot, a context in which its checks run (e.g. with the powers they
#: need precomputed together, :func:`viche.verify.prefill.check_ballot_fast`).
Prepare = Callable[[Ballot], AbstractContextManager[None]]


def check_ballot(
    election: Election,
    raw: bytes,
    credentials: PublicCredentials,
    where: Location = NOWHERE,
    prepare: Prepare | None = None,
) -> CheckedBallot:
    """Every check of a ballot, cheapest first; raises the first failure.

    * at most :func:`max_ballot_size` bytes (:class:`~viche.errors.BallotShapeError`),
    * canonical compact form (:class:`~viche.errors.NonCanonicalError`),
    * uuid and election fingerprint (:class:`~viche.errors.WrongElectionError`),
    * credential in the list (:class:`~viche.errors.UnknownCredentialError`) and a group
      element,
    * answers match the questions (:class:`~viche.errors.BallotShapeError`),
    * every ciphertext component a group element
      (:class:`~viche.errors.GroupMembershipError`),
    * signature hash and signature, then every proof (:class:`~viche.errors.ProofError`).

    ``prepare`` (once the ballot parses) gives the context the checks after parsing run in:
    it may only make them faster, never change them.
    """
    limit = max_ballot_size(election)
    if len(raw) > limit:
        raise BallotShapeError(
            f"ballot of {len(raw)} bytes; a ballot of this election has at most {limit}",
            where=where.sub("ballot"),
        )
    hex_hash = sha256_hex(raw)
    tracker = tracker_of_hash(hex_hash)  # smart_ballot_tracker(raw), from the same digest
    bwhere = where.at(ballot=tracker)
    # the parse and the checks build no location unless they fail (errors.located)
    ballot = located(lambda w: Ballot.from_bytes(raw, w), bwhere)
    with prepare(ballot) if prepare is not None else nullcontext():
        return located(
            lambda w: _check_parsed(election, raw, credentials, ballot, (tracker, hex_hash), w),
            bwhere,
        )


def _check_parsed(  # noqa: PLR0917 (the parts of check_ballot's state)
    election: Election,
    raw: bytes,
    credentials: PublicCredentials,
    ballot: Ballot,
    hashes: tuple[str, str],
    bwhere: Location,
) -> CheckedBallot:
    if ballot.election_uuid != election.uuid:
        raise WrongElectionError(
            f"ballot for election {ballot.election_uuid!r}, not {election.uuid!r}",
            where=bwhere.sub("election_uuid"),
        )
    if ballot.election_hash != election.fingerprint:
        raise WrongElectionError(
            "ballot for another version of the election (fingerprint differs)",
            where=bwhere.sub("election_hash"),
        )
    cred_text = ballot.credential_text
    entry = credentials.lookup(cred_text, where=bwhere.sub("credential"))
    group = election.group
    group.check_element(ballot.credential, bwhere.sub("credential"))
    _check_shape(election, ballot, bwhere)
    _check_members(election, ballot, bwhere)
    expected_hash = signature_hash(ballot, raw)
    if ballot.signature.hash != expected_hash:
        raise ProofError(
            "signature hash is not the hash of the ballot without its signature",
            where=bwhere.sub("signature", "hash"),
        )
    check_ballot_signature(
        group, ballot.credential, expected_hash, ballot.signature.proof, bwhere.sub("signature")
    )
    pk = election.public_key
    s0 = answer_prefix_s0(election, cred_text)
    for i, (answer, question) in enumerate(zip(ballot.answers, election.questions, strict=True)):
        awhere = bwhere.at(question=i + 1)
        if isinstance(answer, NHAnswer):
            check_nh_answer(pk, s0, answer, where=awhere)
        elif not isinstance(question, HomomorphicQuestion):  # excluded by _check_shape
            raise BallotShapeError("answer does not fit the question", where=awhere)
        else:
            check_h_answer(
                pk,
                s0,
                answer,
                n_answers=len(question.answers),
                min=question.min,
                max=question.max,
                blank=question.blank,
                where=awhere,
            )
    tracker, hex_hash = hashes
    return CheckedBallot(
        ballot=ballot,
        raw=raw,
        tracker=tracker,
        hex_hash=hex_hash,
        credential=cred_text,
        weight=entry.effective_weight,
    )
