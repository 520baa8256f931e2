"""After the vote: close (EndBallots + encrypted tally), partial decryptions, the result.

Every step reads the record again and re-checks what it relies on (the ballots before the
tally, the partial decryptions before the result), like ``belenios-tool``; the steps that
append do so under the store's lock, against the head they checked. A refused input leaves
the record unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import RandomSource
from viche.crypto.trustee import TrusteePrivateKey
from viche.errors import (
    JsonFormatError,
    Location,
    PhaseError,
    ProtocolError,
    TallyError,
    UsageError,
)
from viche.protocol import codec
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.channels import check_seed
from viche.protocol.election import Election, HomomorphicQuestion
from viche.protocol.tally import (
    EncryptedTally,
    Owned,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
    check_partial_decryption,
    compute_encrypted_tally,
    compute_result,
    last_ballots,
    make_partial_decryption,
    sized_tally,
)
from viche.protocol.threshold import decrypt_share
from viche.protocol.trustees import FlatTrustee
from viche.record.events import EventType
from viche.service.archive import VOTING, ElectionRecord
from viche.service.files import read_bytes, read_text
from viche.service.setup import read_private_key
from viche.service.shuffle import check_can_decrypt, decryption_tally

Progress = Callable[[int], None]


def check_all_ballots(
    state: ElectionRecord, progress: Progress | None = None, jobs: int | None = None
) -> list[CheckedBallot]:
    """Every ballot of the archive, fully checked (in parallel processes, ``jobs`` = all
    cores by default), in archive order. A ballot that fails is a :class:`TallyError`."""
    from viche.verify.ballots import check_ballots

    entries = state.record.ballots
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done)

    outcomes = check_ballots(
        state.election,
        state.credentials,
        [(e.height, e.raw) for e in entries],
        jobs=jobs,
        progress=tick,
    )
    out: list[CheckedBallot] = []
    for entry, outcome in zip(entries, outcomes, strict=True):
        if outcome.error is not None:
            _, code, message, where = outcome.error
            raise TallyError(
                f"a ballot in the archive is invalid: {message}", where=where, code=code
            )
        out.append(
            CheckedBallot(
                ballot=Ballot.from_bytes(entry.raw, Location(event=entry.height)),
                raw=entry.raw,
                tracker=outcome.tracker,
                hex_hash=entry.hash,
                credential=str(outcome.credential),
                weight=outcome.weight,
            )
        )
    return out


# ---------------------------------------------------------------------- close


@dataclass(frozen=True)
class Closed:
    num_tallied: int
    total_weight: int
    ballots: int


def check_can_close(state: ElectionRecord) -> None:
    """The vote can be closed until the encrypted tally is in the record (after EndBallots
    alone, closing appends the tally)."""
    head = state.store.head()
    if head.type not in VOTING | {EventType.END_BALLOTS}:
        raise PhaseError("the vote is already closed", where=state.where.at(event=head.height))


def close(
    state: ElectionRecord, progress: Progress | None = None, jobs: int | None = None
) -> Closed:
    """``EndBallots`` then ``EncryptedTally`` (encrypted_tally + sized_encrypted_tally)."""
    store = state.store
    with store.locked():
        check_can_close(state)
        state.refresh()
        checked = check_all_ballots(state, progress, jobs)
        counted = last_ballots(checked)
        tally = compute_encrypted_tally(state.election, counted)
        sized = sized_tally(tally, counted)
        head = store.head()
        if head.type is not EventType.END_BALLOTS:
            head = store.append(EventType.END_BALLOTS, [], expected_head=head.hash)
        store.append(
            EventType.ENCRYPTED_TALLY,
            [tally.to_bytes(), codec.to_bytes(sized.to_json())],
            expected_head=head.hash,
        )
    state.refresh()
    return Closed(sized.num_tallied, sized.total_weight, len(checked))


def encrypted_tally(state: ElectionRecord) -> tuple[EncryptedTally, SizedEncryptedTally]:
    entry = state.record.encrypted_tally
    if entry is None:
        raise PhaseError("the vote is not closed yet: no encrypted tally", where=state.where)
    tally = EncryptedTally.from_bytes(
        entry.tally_raw, Location(path=("archive", "encrypted_tally"))
    )
    sized = SizedEncryptedTally.from_bytes(
        entry.sized_raw, Location(path=("archive", "sized_encrypted_tally"))
    )
    return tally, sized


def checked_encrypted_tally(
    state: ElectionRecord, progress: Progress | None = None, jobs: int | None = None
) -> tuple[EncryptedTally, SizedEncryptedTally]:
    """The archive's encrypted tally after re-checking every ballot and recomputing it, as
    ``belenios-tool decrypt`` does. A trustee must never raise ciphertexts chosen by the
    server to its secret: a single voter's ciphertext passed off as the tally reveals that
    vote, and a value outside the group leaks the key modulo a small factor of p - 1."""
    tally, sized = encrypted_tally(state)
    entry = state.record.encrypted_tally
    assert entry is not None  # encrypted_tally() raised otherwise
    counted = last_ballots(check_all_ballots(state, progress, jobs))
    expected = compute_encrypted_tally(state.election, counted)
    if expected.to_bytes() != entry.tally_raw:
        raise TallyError(
            "the encrypted tally in the archive is not the tally of its ballots",
            where=Location(path=("archive", "encrypted_tally")),
        )
    if codec.to_bytes(sized_tally(expected, counted).to_json()) != entry.sized_raw:
        raise TallyError(
            "num_tallied, total_weight or the tally hash do not match the ballots",
            where=Location(path=("archive", "sized_encrypted_tally")),
        )
    return tally, sized


# ---------------------------------------------------------------------- decryption


@dataclass(frozen=True)
class DecryptionLines:
    """The two lines ``election decrypt`` prints: partial_decryption and its owned wrapper."""

    partial_decryption: bytes
    owned: bytes

    def text(self) -> str:
        return f"{self.partial_decryption.decode()}\n{self.owned.decode()}\n"


def _find_trustee(
    state: ElectionRecord, group: Group, secret: TrusteePrivateKey, trustee_id: int | None
) -> FlatTrustee:
    public = secret.public_key(group)
    flat = state.trustees.flat()
    if trustee_id is not None:
        t = state.trustees.trustee(trustee_id, where=Location(path=("--trustee-id",)))
        if t.key.public_key != public:
            raise ProtocolError(
                f"this key is not the key of trustee {trustee_id}",
                where=Location(path=("--trustee-id",)),
            )
        return t
    matches = [t for t in flat if t.key.public_key == public]
    if not matches:
        raise ProtocolError("this key is not the key of any trustee of the election")
    return matches[0]


def partial_decryption(
    state: ElectionRecord, secret: TrusteePrivateKey, trustee_id: int | None, rng: RandomSource
) -> DecryptionLines:
    """A trustee's partial decryption of the encrypted tally (Single key or Pedersen share)."""
    checked_encrypted_tally(state)  # the archive's tally is the tally of its ballots
    tally = decryption_tally(state)  # NH rows: after the shuffles (viche.service.shuffle)
    trustee = _find_trustee(state, state.election.group, secret, trustee_id)
    pd = make_partial_decryption(state.election, tally, secret, rng)
    raw = codec.to_bytes(pd.to_json())
    owned = codec.to_bytes(Owned(trustee.trustee_id, sha256_hex(raw)).to_json())
    return DecryptionLines(raw, owned)


def single_key(path: Path) -> TrusteePrivateKey:
    return read_private_key(path)


def threshold_key(group: Group, key_path: Path, dkey_path: Path) -> TrusteePrivateKey:
    """A Pedersen trustee's share x_j, opened from its ``.dkey`` with its ``.key`` seed."""
    seed = check_seed(
        read_text(key_path, "trustee seed (.key)").strip(), where=Location(file=str(key_path))
    )
    dkey = read_text(dkey_path, "decryption key (.dkey)").strip()
    return decrypt_share(group, seed, dkey, where=Location(file=str(dkey_path)))


def read_decryption_lines(path: Path) -> DecryptionLines:
    lines = [ln for ln in read_bytes(path, "partial decryption").split(b"\n") if ln]
    if len(lines) != 2:
        raise JsonFormatError(
            f"expected 2 lines (partial_decryption, owned), found {len(lines)}",
            where=Location(file=str(path)),
        )
    return DecryptionLines(lines[0], lines[1])


def check_decryption(
    state: ElectionRecord,
    lines: DecryptionLines,
    where: Location,
    tally: EncryptedTally | None = None,
) -> int:
    """Full check of a partial decryption (against ``tally``, by default the
    :func:`~viche.service.shuffle.decryption_tally`); returns its owner's trustee id."""
    if tally is None:
        tally = decryption_tally(state)
    owned = Owned.from_bytes(lines.owned, where.sub("owned"))
    if owned.payload != sha256_hex(lines.partial_decryption):
        raise ProtocolError(
            "owned.payload is not the hash of the partial decryption line", where=where
        )
    trustee = state.trustees.trustee(owned.owner, where=where.sub("owner"))
    pd = PartialDecryption.from_bytes(lines.partial_decryption, where)  # canonical form included
    check_partial_decryption(state.election, tally, pd, trustee.key.public_key, where)
    return owned.owner


def add_decryption(state: ElectionRecord, lines: DecryptionLines) -> int:
    """Check and append a partial decryption; returns the owner (trustee id)."""
    store = state.store
    with store.locked():
        state.refresh()
        check_can_decrypt(state)
        where = Location(path=("partial decryption",))
        owner = check_decryption(state, lines, where)
        if any(e.owner == owner for e in state.record.partial_decryptions):
            raise ProtocolError(
                f"trustee {owner} already published a partial decryption",
                where=where.sub("owner"),
            )
        store.append(
            EventType.PARTIAL_DECRYPTION,
            [lines.partial_decryption, lines.owned],
            expected_head=store.head().hash,
        )
    state.refresh()
    return owner


# ---------------------------------------------------------------------- result


@dataclass(frozen=True)
class QuestionResult:
    question: str
    answers: tuple[str, ...]
    counts: tuple[int, ...]
    blank: int | None
    #: non-homomorphic questions: the decoded vector of each ballot, in shuffled order
    ballots: tuple[tuple[int, ...], ...] | None = None


def labelled(state: ElectionRecord, result: Result) -> list[QuestionResult]:
    return label(state.election, result)


def label(election: Election, result: Result) -> list[QuestionResult]:
    """The result's rows with their questions and answers."""
    out: list[QuestionResult] = []
    for q, row in zip(election.questions, result.result, strict=True):
        if not isinstance(q, HomomorphicQuestion):  # one decoded vector per ballot
            vectors = tuple(tuple(v) for v in row if isinstance(v, tuple))
            out.append(QuestionResult(q.question, q.answers, (), None, ballots=vectors))
            continue
        counts = tuple(int(v) for v in row if isinstance(v, int))
        if q.blank:
            out.append(QuestionResult(q.question, q.answers, counts[1:], counts[0]))
        else:
            out.append(QuestionResult(q.question, q.answers, counts, None))
    return out


def compute(state: ElectionRecord) -> Result:
    _, sized = checked_encrypted_tally(state)  # total_weight bounds the discrete logs
    tally = decryption_tally(state)
    pds: dict[int, PartialDecryption] = {}
    for e in state.record.partial_decryptions:
        where = state.where.at(event=e.height)
        lines = DecryptionLines(e.payload_raw, e.owned_raw)
        owner = check_decryption(state, lines, where, tally)
        if owner in pds:
            raise TallyError(f"two partial decryptions from trustee {owner}", where=where)
        pds[owner] = PartialDecryption.from_bytes(e.payload_raw, where)
    return compute_result(state.election, state.trustees, tally, pds, sized.total_weight)


def publish_result(state: ElectionRecord) -> tuple[Result, list[QuestionResult]]:
    """Combine the partial decryptions in the record, append the Result event."""
    store = state.store
    with store.locked():
        state.refresh()
        if state.record.result is not None:
            raise PhaseError("the result is already published", where=state.where)
        result = compute(state)
        store.append(
            EventType.RESULT, [codec.to_bytes(result.to_json())], expected_head=store.head().hash
        )
    state.refresh()
    return result, labelled(state, result)


def read_result(state: ElectionRecord) -> tuple[Result, list[QuestionResult]]:
    entry = state.record.result
    if entry is None:
        raise UsageError("no result in the archive yet", where=state.where)
    result = Result.from_bytes(entry.raw, Location(path=("archive", "result")))
    return result, labelled(state, result)
