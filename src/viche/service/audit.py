"""Cast or audit (beyond Belenios, as Helios): checking a ballot the booth audited.

The booth's "audit" reveals the randomness of an encrypted ballot that will never be cast
(the voting server refuses it: :func:`register_audit`, and casting under the lock). With the
revealed randomness anyone can encrypt the claimed choices again: :func:`audit_ballot`
checks that this gives exactly the audited ballot's ciphertexts, that the tracker is the
ballot's, and that the ballot itself is valid (proofs, signature, credential on the list),
and names the choices in words. The audit file, as the booth writes it::

    {"election": UUID, "fingerprint": ..., "tracker": ..., "choices": [[0,1,...],...],
     "randomness": [["r", ...], ...], "ballot": {...the ballot...}}
"""

from __future__ import annotations

from dataclasses import dataclass

from gmpy2 import mpz

from viche.crypto.answers import HAnswer, NHAnswer, validate_h_plaintext
from viche.crypto.elgamal import Ciphertext, group_encode
from viche.errors import (
    AuditedBallotError,
    AuditMismatchError,
    BallotShapeError,
    Location,
    ReplayedBallotError,
    WrongElectionError,
)
from viche.protocol import codec
from viche.protocol.ballot import Ballot, check_ballot, smart_ballot_tracker
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    NonHomomorphicQuestion,
    PublicCredentials,
)
from viche.record.sql.accounts import add_audit
from viche.record.sql.board import SqlBoard, SqlElectionStore


@dataclass(frozen=True)
class AuditFile:
    """An audit file, parsed: the election's uuid, the tracker, the choices (one list of
    small integers per question), the randomness (one list of exponents per question) and
    the ballot's canonical bytes."""

    election: str
    tracker: str
    choices: tuple[tuple[int, ...], ...]
    randomness: tuple[tuple[mpz, ...], ...]
    raw: bytes


@dataclass(frozen=True)
class AuditedAnswer:
    """One question of an audited ballot, in words: ``chosen`` names the selected answers
    (empty with ``blank``); for a non-homomorphic question, ``values`` one per answer."""

    question: str
    chosen: tuple[str, ...]
    blank: bool = False
    values: tuple[int, ...] = ()


@dataclass(frozen=True)
class AuditReport:
    tracker: str
    answers: tuple[AuditedAnswer, ...]


def parse_audit(data: bytes, where: Location) -> AuditFile:
    """The audit file ``data`` (JSON); :class:`~viche.errors.FormatError` when malformed."""
    obj = codec.expect_object(
        codec.loads(data, where),
        where,
        ("election", "fingerprint", "tracker", "choices", "randomness", "ballot"),
    )
    choices: list[tuple[int, ...]] = []
    for i, item in enumerate(codec.expect_list(obj["choices"], where.sub("choices"))):
        values = codec.expect_list(item, where.sub("choices", i).at(question=i + 1))
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int):
                raise BallotShapeError(
                    "choices must be small integers", where=where.at(question=i + 1)
                )
        choices.append(tuple(values))
    randomness: list[tuple[mpz, ...]] = []
    for i, item in enumerate(codec.expect_list(obj["randomness"], where.sub("randomness"))):
        qwhere = where.sub("randomness", i).at(question=i + 1)
        randomness.append(
            tuple(
                codec.number(r, qwhere.sub(j))
                for j, r in enumerate(codec.expect_list(item, qwhere))
            )
        )
    return AuditFile(
        election=codec.get_str(obj, "election", where),
        tracker=codec.get_str(obj, "tracker", where),
        choices=tuple(choices),
        randomness=tuple(randomness),
        raw=codec.to_bytes(obj["ballot"]),
    )


def _mismatch(message: str, where: Location) -> AuditMismatchError:
    return AuditMismatchError(message, where=where)


def _expected(
    election: Election, question: HomomorphicQuestion | NonHomomorphicQuestion,
    plain: tuple[int, ...], where: Location,
) -> list[mpz]:  # fmt: skip
    """The plaintext group elements the ciphertexts of this answer must hold."""
    group = election.group
    if isinstance(question, NonHomomorphicQuestion):
        if len(plain) != len(question.answers):
            raise BallotShapeError(
                f"{len(plain)} values for {len(question.answers)} answers", where=where
            )
        return [group_encode(group, plain, where)]
    validate_h_plaintext(
        plain,
        n_answers=len(question.answers),
        min=question.min,
        max=question.max,
        blank=question.blank,
        where=where,
    )
    return [group.g if m else mpz(1) for m in plain]


def audit_ballot(
    election: Election, credentials: PublicCredentials, audit: AuditFile, where: Location
) -> AuditReport:
    """Check ``audit`` against ``election``: the tracker is the ballot's, the ballot is
    valid, and each ciphertext is ``(g^r, y^r m)`` for the revealed ``r`` and the claimed
    choice ``m``. Raises :class:`~viche.errors.AuditMismatchError` when the ballot does not
    encrypt the claimed choices (or the tracker is another ballot's), the errors of
    :func:`~viche.protocol.ballot.check_ballot` when the ballot is invalid."""
    if audit.election != election.uuid:
        raise WrongElectionError(
            f"the audit is for election {audit.election}, not {election.uuid}",
            where=where.sub("election"),
        )
    tracker = smart_ballot_tracker(audit.raw)
    if tracker != audit.tracker:
        raise _mismatch(
            f"the tracker {audit.tracker} is not the audited ballot's ({tracker})",
            where.sub("tracker"),
        )
    check_ballot(election, audit.raw, credentials, where.sub("ballot"))
    ballot = Ballot.from_bytes(audit.raw, where.sub("ballot"))
    n = len(election.questions)
    if len(audit.choices) != n or len(audit.randomness) != n:
        raise BallotShapeError(
            f"one list of choices and one of randomness per question ({n}) are needed",
            where=where,
        )
    group = election.group
    p, q, g, y = group.p, group.q, group.g, election.public_key.y
    out: list[AuditedAnswer] = []
    for i, (question, answer) in enumerate(zip(election.questions, ballot.answers, strict=True)):
        qwhere = where.at(question=i + 1)
        plain = audit.choices[i]
        expected = _expected(election, question, plain, qwhere.sub("choices"))
        cts: tuple[Ciphertext, ...] = (
            (answer.choices,) if isinstance(answer, NHAnswer) else answer.choices
        )
        rs = audit.randomness[i]
        if len(rs) != len(cts) or len(expected) != len(cts):
            raise _mismatch(
                f"{len(rs)} random values and {len(expected)} choices for {len(cts)} ciphertexts",
                qwhere,
            )
        for j, (ct, r, m) in enumerate(zip(cts, rs, expected, strict=True)):
            if not 0 <= r < q:
                raise _mismatch("a random value outside [0, q)", qwhere.at(answer=j))
            if ct.alpha != pow(g, r, p) or ct.beta != pow(y, r, p) * m % p:
                raise _mismatch(
                    "the ballot does not encrypt this choice with this randomness",
                    qwhere.at(answer=j),
                )
        if isinstance(question, NonHomomorphicQuestion):
            out.append(AuditedAnswer(question.question, (), values=plain))
            continue
        assert isinstance(answer, HAnswer)
        picks = plain[1:] if question.blank else plain
        blank = question.blank and plain[0] == 1
        chosen = tuple(a for a, m in zip(question.answers, picks, strict=True) if m)
        out.append(AuditedAnswer(question.question, chosen, blank=blank))
    return AuditReport(tracker, tuple(out))


# ---------------------------------------------------------------------- the voting server


def register_audit(
    board: SqlBoard,
    store: SqlElectionStore,
    election: Election,
    credentials: PublicCredentials,
    raw: bytes,
) -> str:
    """The booth audits a ballot: once checked (a valid ballot of this election, so that
    nobody fills the table with junk), its hash is kept and it can never be cast. Returns
    its tracker. Under the election's write lock, the same the casting path appends under:
    a ballot already cast is refused (:class:`~viche.errors.ReplayedBallotError`; the
    booth then reveals nothing), and a cast of this ballot after the audit is refused, so
    that "audited => never cast" holds whatever the timing."""
    checked = check_ballot(election, raw, credentials, Location(path=("ballot",)))
    with store.locked():
        prior = store.ballot_by_hash(checked.hex_hash)
        if prior is not None:
            raise ReplayedBallotError(
                f"this ballot is already cast (event {prior.height}): it cannot be audited",
                where=Location(ballot=checked.tracker),
            )
        add_audit(board, election.uuid, checked.hex_hash)
    return checked.tracker


def audited_error(tracker: str) -> AuditedBallotError:
    """The refusal of a ballot that was audited."""
    return AuditedBallotError(
        "this ballot was audited (its randomness is revealed): it can never be cast; "
        "encrypt your choices again",
        where=Location(ballot=tracker),
    )
