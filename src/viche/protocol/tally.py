"""Encrypted tally, shuffles (shape only), partial decryptions and the result
(specification 4.15-4.19, FORMAT.md §7).

The flow: ``last_ballots`` keeps the last ballot of each credential (archive order);
``compute_encrypted_tally`` multiplies their choices (raised to their weights) per question;
each trustee publishes a :class:`PartialDecryption` (``make_partial_decryption``), checked by
``check_partial_decryption``; ``compute_result`` combines them (Lagrange for Pedersen
items) and takes bounded discrete logarithms; ``check_result`` re-checks a published one.

Non-homomorphic questions need verifiable shuffles before decryption: each trustee shuffles
the NH rows (``nh_ciphertexts``; :func:`viche.protocol.shuffle.make_shuffle`),
:func:`check_shuffle` checks the proofs against the previous rows, and
:func:`merge_shuffled` puts the last shuffle's rows back into the tally that is decrypted;
the result lists NH vectors in that shuffled order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gmpy2 import mpz

from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.elgamal import Ciphertext, ct_mul, ct_one, ct_pow, dlog_small, group_decode
from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.proofs import check_decryption, prove_decryption
from viche.crypto.rng import RandomSource
from viche.crypto.schnorr import Proof
from viche.crypto.trustee import TrusteePrivateKey
from viche.errors import (
    JsonFormatError,
    Location,
    ProofError,
    TallyError,
)
from viche.protocol.ballot import CheckedBallot
from viche.protocol.codec import (
    JsonObject,
    expect_list,
    expect_object,
    get_int,
    get_str,
    loads,
    number,
    require_canonical,
    sub,
    to_bytes,
)
from viche.protocol.election import Election, HomomorphicQuestion, NonHomomorphicQuestion
from viche.protocol.messages import (
    ciphertexts_from_json,
    ciphertexts_to_json,
    proof_from_json,
    proof_to_json,
)
from viche.protocol.shuffle import Shuffle, check_shuffle_rows
from viche.protocol.threshold import decryption_weights
from viche.protocol.trustees import Trustees

# ---------------------------------------------------------------------- helpers


def _matrix_from_json(value: object, where: Location) -> tuple[tuple[Ciphertext, ...], ...]:
    rows = expect_list(value, where)
    return tuple(ciphertexts_from_json(r, sub(where, i)) for i, r in enumerate(rows))


def _check_hex(value: str, where: Location) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise JsonFormatError("expected a lower-case hex SHA-256", where=where)
    return value


def _ct_where(where: Location, i: int, j: int) -> Location:
    return where.at(question=i + 1, answer=j + 1)


# ---------------------------------------------------------------------- last(B)


def last_ballots(ballots: Iterable[CheckedBallot]) -> list[CheckedBallot]:
    """B̂ = last(B): for each credential only its last ballot, ordered by the position of
    that last ballot in archive order (spec 4.15)."""
    kept: dict[str, CheckedBallot] = {}
    for b in ballots:
        kept.pop(b.credential, None)
        kept[b.credential] = b
    return list(kept.values())


# ---------------------------------------------------------------------- encrypted tally


@dataclass(frozen=True)
class EncryptedTally:
    """``encrypted_tally``: one list of ciphertexts per question (spec 4.16)."""

    questions: tuple[tuple[Ciphertext, ...], ...]

    def to_json(self) -> list[Any]:
        return [ciphertexts_to_json(list(q)) for q in self.questions]

    @classmethod
    def from_json(
        cls, value: object, where: Location = Location(path=("encrypted_tally",))
    ) -> EncryptedTally:
        return cls(_matrix_from_json(value, where))

    @classmethod
    def from_bytes(
        cls, raw: bytes, where: Location = Location(path=("encrypted_tally",))
    ) -> EncryptedTally:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "encrypted tally")
        return value

    def to_bytes(self) -> bytes:
        return to_bytes(self.to_json())

    def check_members(
        self, group: Group, where: Location = Location(path=("encrypted_tally",))
    ) -> None:
        for i, row in enumerate(self.questions):
            for j, ct in enumerate(row):
                group.check_element(ct.alpha, _ct_where(where, i, j).sub("alpha"))
                group.check_element(ct.beta, _ct_where(where, i, j).sub("beta"))

    def check_shape(
        self, election: Election, where: Location = Location(path=("encrypted_tally",))
    ) -> None:
        """One row per question; homomorphic rows have one ciphertext per choice."""
        if len(self.questions) != len(election.questions):
            raise TallyError(
                f"{len(self.questions)} rows for {len(election.questions)} questions",
                where=where,
            )
        for i, (row, q) in enumerate(zip(self.questions, election.questions, strict=True)):
            if isinstance(q, HomomorphicQuestion) and len(row) != q.n_choices:
                raise TallyError(
                    f"{len(row)} ciphertexts, expected {q.n_choices}",
                    where=where.at(question=i + 1),
                )


@dataclass(frozen=True)
class SizedEncryptedTally:
    """``{"num_tallied","total_weight","encrypted_tally"}``: the EncryptedTally payload."""

    num_tallied: int
    total_weight: int
    encrypted_tally: str  # hex sha256 of the encrypted_tally member

    def to_json(self) -> JsonObject:
        return {
            "num_tallied": self.num_tallied,
            "total_weight": self.total_weight,
            "encrypted_tally": self.encrypted_tally,
        }

    @classmethod
    def from_json(
        cls, value: object, where: Location = Location(path=("sized_encrypted_tally",))
    ) -> SizedEncryptedTally:
        obj = expect_object(value, where, ("num_tallied", "total_weight", "encrypted_tally"))
        return cls(
            num_tallied=get_int(obj, "num_tallied", where, minimum=0),
            total_weight=get_int(obj, "total_weight", where, minimum=0),
            encrypted_tally=_check_hex(
                get_str(obj, "encrypted_tally", where), sub(where, "encrypted_tally")
            ),
        )

    @classmethod
    def from_bytes(
        cls, raw: bytes, where: Location = Location(path=("sized_encrypted_tally",))
    ) -> SizedEncryptedTally:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "sized encrypted tally")
        return value


def _h_answer(b: CheckedBallot, i: int, n_choices: int) -> HAnswer:
    ans = b.ballot.answers[i] if i < len(b.ballot.answers) else None
    if not isinstance(ans, HAnswer) or len(ans.choices) != n_choices:
        raise TallyError(
            "ballot does not fit the question (was it checked?)",
            where=Location(ballot=b.tracker, question=i + 1),
        )
    return ans


def _nh_answer(b: CheckedBallot, i: int) -> NHAnswer:
    ans = b.ballot.answers[i] if i < len(b.ballot.answers) else None
    if not isinstance(ans, NHAnswer):
        raise TallyError(
            "ballot does not fit the question (was it checked?)",
            where=Location(ballot=b.tracker, question=i + 1),
        )
    return ans


def compute_encrypted_tally(election: Election, counted: Sequence[CheckedBallot]) -> EncryptedTally:
    """The encrypted tally of the counted ballots (already ``last_ballots``), spec 4.16.

    Homomorphic questions: per choice, Π choice^weight (blank flag included).
    Non-homomorphic questions: the ballots' ciphertexts sorted by (alpha, beta) as
    belenios-tool does; a weight other than 1 is a :class:`TallyError`.
    """
    group = election.group
    rows: list[tuple[Ciphertext, ...]] = []
    for i, q in enumerate(election.questions):
        if isinstance(q, NonHomomorphicQuestion):
            nh: list[Ciphertext] = []
            for b in counted:
                if b.weight != 1:
                    raise TallyError(
                        f"weight {b.weight} on a non-homomorphic question (must be 1)",
                        where=Location(ballot=b.tracker, question=i + 1),
                    )
                nh.append(_nh_answer(b, i).choices)
            # belenios-tool sorts these rows by (alpha, beta) as numbers, which also
            # hides the casting order before the shuffles; we write the same bytes.
            rows.append(tuple(sorted(nh, key=lambda c: (c.alpha, c.beta))))
            continue
        acc = [ct_one()] * q.n_choices
        for b in counted:
            for j, ct in enumerate(_h_answer(b, i, q.n_choices).choices):
                term = ct if b.weight == 1 else ct_pow(group, ct, b.weight)
                acc[j] = ct_mul(group, acc[j], term)
        rows.append(tuple(acc))
    return EncryptedTally(tuple(rows))


def sized_tally(tally: EncryptedTally, counted: Sequence[CheckedBallot]) -> SizedEncryptedTally:
    return SizedEncryptedTally(
        num_tallied=len(counted),
        total_weight=sum(b.weight for b in counted),
        encrypted_tally=sha256_hex(tally.to_bytes()),
    )


# ---------------------------------------------------------------------- owned payloads


@dataclass(frozen=True)
class Owned:
    """``owned_shuffle`` / ``owned_partial_decryption``: ``{"owner","payload"}``."""

    owner: int
    payload: str

    def to_json(self) -> JsonObject:
        return {"owner": self.owner, "payload": self.payload}

    @classmethod
    def from_json(cls, value: object, where: Location = Location(path=("owned",))) -> Owned:
        obj = expect_object(value, where, ("owner", "payload"))
        return cls(
            owner=get_int(obj, "owner", where, minimum=1),
            payload=_check_hex(get_str(obj, "payload", where), sub(where, "payload")),
        )

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = Location(path=("owned",))) -> Owned:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "owned")
        return value


# ---------------------------------------------------------------------- shuffles

# The ``Shuffle`` message and its ``ShuffleProof`` codec live in viche.protocol.shuffle
# (``Shuffle`` is still importable from here); the proofs in viche.crypto.shuffle.


def _numbers(value: object, where: Location) -> tuple[mpz, ...]:
    return tuple(number(v, sub(where, i)) for i, v in enumerate(expect_list(value, where)))


def nh_indices(election: Election) -> list[int]:
    return [i for i, q in enumerate(election.questions) if isinstance(q, NonHomomorphicQuestion)]


def nh_ciphertexts(election: Election, tally: EncryptedTally) -> tuple[tuple[Ciphertext, ...], ...]:
    """The rows of the non-homomorphic questions (spec 4.17)."""
    return tuple(tally.questions[i] for i in nh_indices(election))


def merge_shuffled(election: Election, tally: EncryptedTally, shuffle: Shuffle) -> EncryptedTally:
    """The tally whose NH rows are the shuffle's ciphertexts (homomorphic rows unchanged)."""
    idx = nh_indices(election)
    if len(shuffle.ciphertexts) != len(idx):
        raise TallyError(
            f"shuffle has {len(shuffle.ciphertexts)} lists for {len(idx)} NH questions",
            where=Location(path=("shuffle",)),
        )
    rows = list(tally.questions)
    for k, i in enumerate(idx):
        if len(shuffle.ciphertexts[k]) != len(rows[i]):
            raise TallyError(
                f"shuffle of question {i + 1} has {len(shuffle.ciphertexts[k])} ciphertexts, "
                f"expected {len(rows[i])}",
                where=Location(path=("shuffle",)),
            )
        rows[i] = shuffle.ciphertexts[k]
    return EncryptedTally(tuple(rows))


def check_shuffle(
    election: Election,
    before: EncryptedTally,
    shuffle: Shuffle,
    where: Location = Location(path=("shuffle",)),
) -> None:
    """Check the CHVote proofs of ``shuffle`` against the NH rows of ``before`` (the
    encrypted tally, or the tally merged with the previous shuffle), spec 4.17 and section 6.

    Raises :class:`TallyError` (shape), :class:`~viche.errors.GroupMembershipError` or
    :class:`ProofError` naming the question and the proof component.
    """
    check_shuffle_rows(election, nh_ciphertexts(election, before), shuffle, where)


# ---------------------------------------------------------------------- partial decryption


@dataclass(frozen=True)
class PartialDecryption:
    """``{"decryption_factors","decryption_proofs"}``, shaped like the tally (spec 4.18)."""

    decryption_factors: tuple[tuple[mpz, ...], ...]
    decryption_proofs: tuple[tuple[Proof, ...], ...]

    def to_json(self) -> JsonObject:
        return {
            "decryption_factors": [[str(f) for f in row] for row in self.decryption_factors],
            "decryption_proofs": [
                [proof_to_json(p) for p in row] for row in self.decryption_proofs
            ],
        }

    @classmethod
    def from_json(
        cls, value: object, where: Location = Location(path=("partial_decryption",))
    ) -> PartialDecryption:
        obj = expect_object(value, where, ("decryption_factors", "decryption_proofs"))
        fw, pw = sub(where, "decryption_factors"), sub(where, "decryption_proofs")
        factors = tuple(
            _numbers(row, sub(fw, i))
            for i, row in enumerate(expect_list(obj["decryption_factors"], fw))
        )
        proofs = tuple(
            tuple(
                proof_from_json(p, sub(sub(pw, i), j))
                for j, p in enumerate(expect_list(row, sub(pw, i)))
            )
            for i, row in enumerate(expect_list(obj["decryption_proofs"], pw))
        )
        return cls(factors, proofs)

    @classmethod
    def from_bytes(
        cls, raw: bytes, where: Location = Location(path=("partial_decryption",))
    ) -> PartialDecryption:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "partial decryption")
        return value


def _secret(x: mpz | TrusteePrivateKey) -> mpz:
    return x.value if isinstance(x, TrusteePrivateKey) else mpz(x)


def make_partial_decryption(
    election: Election,
    tally: EncryptedTally,
    x: mpz | TrusteePrivateKey,
    rng: RandomSource,
) -> PartialDecryption:
    """Decryption factors α^x with proofs, for a Single key x or a Pedersen share x_j.

    ``tally`` must already hold the shuffled rows of non-homomorphic questions.
    """
    group, phi, secret = election.group, election.fingerprint, _secret(x)
    factors: list[tuple[mpz, ...]] = []
    proofs: list[tuple[Proof, ...]] = []
    for row in tally.questions:
        pairs = [prove_decryption(group, secret, phi, ct.alpha, rng) for ct in row]
        factors.append(tuple(f for f, _ in pairs))
        proofs.append(tuple(p for _, p in pairs))
    return PartialDecryption(tuple(factors), tuple(proofs))


def check_partial_decryption(
    election: Election,
    tally: EncryptedTally,
    pd: PartialDecryption,
    public_key: mpz,
    where: Location = Location(path=("partial_decryption",)),
) -> None:
    """Shape, membership of every factor and every proof against the trustee's key X.

    Raises :class:`TallyError` (shape), :class:`~viche.errors.GroupMembershipError` or
    :class:`ProofError`, naming the question and item.
    """
    group, phi = election.group, election.fingerprint
    n = len(tally.questions)
    if len(pd.decryption_factors) != n or len(pd.decryption_proofs) != n:
        raise TallyError(
            f"{len(pd.decryption_factors)} factor rows and {len(pd.decryption_proofs)} proof "
            f"rows for {n} tally rows",
            where=where,
        )
    for i, (row, frow, prow) in enumerate(
        zip(tally.questions, pd.decryption_factors, pd.decryption_proofs, strict=True)
    ):
        if len(frow) != len(row) or len(prow) != len(row):
            raise TallyError(
                f"{len(frow)} factors and {len(prow)} proofs for {len(row)} ciphertexts",
                where=where.at(question=i + 1),
            )
        for j, (ct, f, p) in enumerate(zip(row, frow, prow, strict=True)):
            at = _ct_where(where, i, j)
            group.check_element(f, at)
            if not check_decryption(group, public_key, phi, ct.alpha, f, p):
                raise ProofError("decryption proof does not verify", where=at)


# ---------------------------------------------------------------------- combination


def combine_factors(
    election: Election,
    trustees: Trustees,
    tally: EncryptedTally,
    partial_decryptions: Mapping[int, PartialDecryption],
    where: Location = Location(path=("result",)),
) -> tuple[tuple[mpz, ...], ...]:
    """F_ij = Π over trustee items of their sub-factors (spec 4.19).

    ``partial_decryptions`` maps trustee ids (1-based, the ``owner`` of the payloads) to
    partial decryptions that were already checked. Every Single trustee must be present and,
    for each Pedersen item, at least ``threshold`` of its trustees; their factors are raised
    to the Lagrange coefficients of :func:`viche.protocol.threshold.decryption_weights`.
    """
    group = election.group
    weights = decryption_weights(group, trustees, partial_decryptions, where=where)
    shape = [len(row) for row in tally.questions]
    acc = [[mpz(1)] * n for n in shape]
    for tid, weight in weights.items():
        pd = partial_decryptions[tid]
        if [len(r) for r in pd.decryption_factors] != shape:
            raise TallyError(
                "partial decryption does not have the shape of the tally",
                where=where.at(trustee=tid),
            )
        for i, row in enumerate(pd.decryption_factors):
            for j, f in enumerate(row):
                term = f if weight == 1 else group.pow(f, weight)
                acc[i][j] = acc[i][j] * term % group.p
    return tuple(tuple(row) for row in acc)


# ---------------------------------------------------------------------- result


ResultRow = tuple[int, ...] | tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Result:
    """``{"result": [...]}``: counts per answer (blank count first) for homomorphic
    questions, decoded vectors (in shuffled order) for non-homomorphic ones."""

    result: tuple[ResultRow, ...]

    def to_json(self) -> JsonObject:
        rows: list[Any] = []
        for row in self.result:
            rows.append([list(v) if isinstance(v, tuple) else v for v in row])
        return {"result": rows}

    @classmethod
    def from_json(cls, value: object, where: Location = Location(path=("result",))) -> Result:
        obj = expect_object(value, where, ("result",))
        rw = sub(where, "result")
        rows: list[ResultRow] = []
        for i, row in enumerate(expect_list(obj["result"], rw)):
            items = expect_list(row, sub(rw, i))
            if items and isinstance(items[0], list):
                rows.append(tuple(_small_ints(v, sub(sub(rw, i), j)) for j, v in enumerate(items)))
            else:
                rows.append(_small_ints(items, sub(rw, i)))
        return cls(tuple(rows))

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = Location(path=("result",))) -> Result:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "result")
        return value


def _small_ints(value: object, where: Location) -> tuple[int, ...]:
    out: list[int] = []
    for k, v in enumerate(expect_list(value, where)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise JsonFormatError("expected a non-negative integer", where=sub(where, k))
        out.append(v)
    return tuple(out)


def compute_result(
    election: Election,
    trustees: Trustees,
    tally: EncryptedTally,
    partial_decryptions: Mapping[int, PartialDecryption],
    total_weight: int,
    *,
    where: Location = Location(path=("result",)),
) -> Result:
    """Combine checked partial decryptions and decode (spec 4.19).

    Homomorphic counts are discrete logs bounded by ``total_weight``; non-homomorphic
    vectors are ``group_decode``d. ``tally`` must hold the shuffled NH rows.
    """
    tally.check_shape(election)
    factors = combine_factors(election, trustees, tally, partial_decryptions, where)
    group = election.group
    rows: list[ResultRow] = []
    for i, (q, row, frow) in enumerate(
        zip(election.questions, tally.questions, factors, strict=True)
    ):
        plain = [group.div(ct.beta, f) for ct, f in zip(row, frow, strict=True)]
        if isinstance(q, HomomorphicQuestion):
            rows.append(
                tuple(
                    dlog_small(group, m, total_weight, where=_ct_where(where, i, j))
                    for j, m in enumerate(plain)
                )
            )
        else:
            rows.append(
                tuple(
                    tuple(group_decode(group, m, len(q.answers), where=_ct_where(where, i, j)))
                    for j, m in enumerate(plain)
                )
            )
    return Result(tuple(rows))


def check_result(
    election: Election,
    trustees: Trustees,
    tally: EncryptedTally,
    partial_decryptions: Mapping[int, PartialDecryption],
    result: Result,
    *,
    where: Location = Location(path=("result",)),
    total_weight: int | None = None,
) -> None:
    """The published result is the combination of the (checked) partial decryptions.

    Homomorphic counts are checked as ``g^count · F = β`` (no discrete log needed), and
    must lie in ``[0, total_weight]`` when the total weight of the counted ballots is
    given (always in ``[0, q)``: count + q satisfies the equation too);
    non-homomorphic vectors by decoding. Raises :class:`TallyError` naming the entry.
    """
    tally.check_shape(election)
    if len(result.result) != len(election.questions):
        raise TallyError(
            f"{len(result.result)} result rows for {len(election.questions)} questions",
            where=where,
        )
    factors = combine_factors(election, trustees, tally, partial_decryptions, where)
    group = election.group
    for i, (q, row, frow, rrow) in enumerate(
        zip(election.questions, tally.questions, factors, result.result, strict=True)
    ):
        if len(rrow) != len(row):
            raise TallyError(
                f"{len(rrow)} result entries for {len(row)} ciphertexts",
                where=where.at(question=i + 1),
            )
        for j, (ct, f, value) in enumerate(zip(row, frow, rrow, strict=True)):
            at = _ct_where(where, i, j)
            if isinstance(q, HomomorphicQuestion):
                if not isinstance(value, int):
                    raise TallyError("expected a count", where=at)
                top = int(group.q) - 1
                bound = top if total_weight is None else min(total_weight, top)
                if not 0 <= value <= bound:
                    raise TallyError(
                        f"count {value} outside [0, {bound}] (the total weight)"
                        if total_weight is not None
                        else "count outside [0, q)",
                        where=at,
                    )
                if group.mul(group.powg(value), f) != ct.beta:
                    raise TallyError("count does not match the decrypted tally", where=at)
            else:
                if not isinstance(value, tuple):
                    raise TallyError("expected a vector of integers", where=at)
                decoded = group_decode(group, group.div(ct.beta, f), len(q.answers), where=at)
                if tuple(decoded) != value:
                    raise TallyError("vector does not match the decrypted ballot", where=at)
